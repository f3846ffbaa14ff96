"""`LabelServer`: the JSON API, and the guards in front of it (token, host,
origin, paths), each checked to leave the files and the log untouched."""

import os
import urllib.parse

import pytest

from tests.labeling.helpers import Served, data_folder, files, log_rows, write_queue


def _image(path):
    return "/api/image?path=" + urllib.parse.quote(path)


def test_queue_label_undo_through_the_api(served):
    status, state = served.request("GET", "/api/queue")
    assert status == 200
    assert state["total"] == 4 and state["classes"] == ["cat", "dog"]
    assert state["pending"][0] == {"path": "unlabeled/u0.png", "name": "u0.png"}
    status, answer = served.request(
        "POST", "/api/label", {"path": "unlabeled/u0.png", "label": "dog"})
    assert status == 200
    assert answer["row"]["to"] == os.path.join("train", "dog", "u0.png")
    assert answer["queue"]["labelled"] == 1
    assert os.path.isfile(os.path.join(served.root, "train", "dog", "u0.png"))
    status, answer = served.request("POST", "/api/undo")
    assert status == 200 and answer["queue"]["labelled"] == 0
    assert os.path.isfile(os.path.join(served.root, "unlabeled", "u0.png"))
    status, answer = served.request("POST", "/api/undo")
    assert status == 409 and "nothing to undo" in answer["error"]


def test_an_image_is_served_as_an_image(served):
    status, data = served.request("GET", _image("unlabeled/u1.png"))
    assert status == 200 and data.startswith(b"\x89PNG")
    with open(os.path.join(served.root, "unlabeled", "u1.png"), "rb") as f:
        assert data == f.read()


def test_the_page_needs_the_token_too(served):
    status, page = served.request("GET", "/")
    assert status == 200 and b"kzoo label" in page
    assert served.request("GET", "/", token=None)[0] == 401
    query = f"/?token={served.server.token}"
    assert served.request("GET", query, token=None)[0] == 200


@pytest.mark.parametrize("token, status", [(None, 401), ("wrong", 403), ("", 401)])
def test_a_missing_or_wrong_token_is_refused_everywhere(served, token, status):
    before = files(served.root)
    for method, path, body in [
            ("GET", "/api/queue", None), ("GET", _image("unlabeled/u0.png"), None),
            ("POST", "/api/label", {"path": "unlabeled/u0.png", "label": "cat"}),
            ("POST", "/api/undo", None)]:
        code, answer = served.request(method, path, body, token=token)
        assert code == status, (method, path)
        assert "token" in answer["error"]
    assert files(served.root) == before
    assert not os.path.exists(os.path.join(served.root, "labels.csv"))


def test_the_token_in_the_query_is_accepted(served):
    status, _ = served.request(
        "GET", f"/api/queue?token={served.server.token}", token=None)
    assert status == 200


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "http://127.0.0.1:1"},   # another local server's page
    {"Origin": "null"},                 # a sandboxed frame or a file: page
    {"Sec-Fetch-Site": "cross-site"},
    {"Host": "evil.example"},           # DNS rebinding: a name pointed here
])
def test_a_request_from_another_origin_or_host_is_refused(served, headers):
    """Even with the right token (a page that learnt it must still not get
    in through the user's browser)."""
    before = files(served.root)
    code, answer = served.request(
        "POST", "/api/label", {"path": "unlabeled/u0.png", "label": "cat"},
        headers=headers)
    assert code == 403 and "refused" in answer["error"]
    assert served.request("GET", "/api/queue", headers=headers)[0] == 403
    assert files(served.root) == before


def test_the_pages_own_origin_is_accepted(served):
    origin = f"http://127.0.0.1:{served.server.port}"
    code, _ = served.request(
        "POST", "/api/label", {"path": "unlabeled/u0.png", "label": "cat"},
        headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"})
    assert code == 200


@pytest.mark.parametrize("path, status", [
    ("../queue.csv", 400), ("unlabeled/../../queue.csv", 400),
    ("/etc/passwd", 400), ("unlabeled%2F..%2F..%2Fqueue.csv", 404),
    ("train/cat/a.png", 404)])  # inside the folder but not queued
def test_paths_out_of_the_queue_are_refused(served, path, status):
    before = files(served.root)
    assert served.request("GET", _image(path))[0] == status
    code, _ = served.request("POST", "/api/label", {"path": path, "label": "cat"})
    assert code == status
    assert files(served.root) == before
    assert not os.path.exists(os.path.join(served.root, "labels.csv"))


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path):
    root, queue = data_folder(tmp_path / "d")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG not yours")
    victim = os.path.join(root, "unlabeled", "u0.png")
    server = Served(root, queue)
    try:
        os.remove(victim)
        os.symlink(secret, victim)
        code, answer = server.request("GET", _image("unlabeled/u0.png"))
        assert code == 403 and b"not yours" not in str(answer).encode()
        code, _ = server.request(
            "POST", "/api/label", {"path": "unlabeled/u0.png", "label": "cat"})
        assert code == 403
    finally:
        server.close()
    assert os.path.islink(victim) and secret.read_bytes() == b"\x89PNG not yours"
    assert not os.path.exists(os.path.join(root, "train", "cat", "u0.png"))


@pytest.mark.parametrize("body, headers, status", [
    (b"{}", {"Content-Type": "text/plain"}, 415),
    (b"not json", {"Content-Type": "application/json"}, 400),
    (b"[1]", {"Content-Type": "application/json"}, 400),
    (b"x" * 70_000, {"Content-Type": "application/json"}, 413)])
def test_bad_bodies_are_refused(served, body, headers, status):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{served.server.port}/api/label", data=body,
        method="POST", headers={"Authorization": f"Bearer {served.server.token}",
                                **headers})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)
    assert err.value.code == status


def test_unknown_routes_and_methods(served):
    assert served.request("GET", "/api/nothing")[0] == 404
    assert served.request("GET", "/api/label")[0] == 405
    assert served.request("POST", "/api/queue", {})[0] == 405


def test_two_tabs_label_one_image_once(served):
    body = {"path": "unlabeled/u2.png", "label": "cat"}
    assert served.request("POST", "/api/label", body)[0] == 200
    code, answer = served.request("POST", "/api/label", {**body, "label": "dog"})
    assert code == 409 and "already labelled" in answer["error"]
    assert [r["label"] for r in log_rows(served.root)] == ["cat"]


def test_a_review_queue_answers_its_columns(tmp_path):
    root, _ = data_folder(tmp_path / "d")
    review = str(tmp_path / "audit.csv")
    write_queue(review, [os.path.join(root, "train", "cat", "a.png")],
                given=["cat"], suggested=["dog"], score=["0.93"])
    server = Served(root, review, review=True)
    try:
        _, state = server.request("GET", "/api/queue")
    finally:
        server.close()
    assert state["review"] is True
    assert state["pending"] == [{"path": "train/cat/a.png", "name": "a.png",
                                 "given": "cat", "suggested": "dog",
                                 "score": "0.93"}]
