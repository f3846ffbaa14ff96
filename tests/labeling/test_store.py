"""`LabelStore`: moves, copies, name clashes, undo, the log, a restart and
a kill mid-action, reviews, and the paths it refuses."""

import os

import pytest

from kzoo.errors import KzooError
from kzoo.labeling import LabelError, LabelStore, log, moves
from tests.labeling.helpers import data_folder, files, log_rows, write_queue


def test_label_moves_into_train_and_logs(tmp_path):
    root, queue = data_folder(tmp_path / "d")
    store = LabelStore(root, queue)
    assert store.classes == ["cat", "dog"]
    assert [e["path"] for e in store.pending()] == [
        f"unlabeled/u{i}.png" for i in range(4)]  # absolute paths, made relative
    row = store.label("unlabeled/u1.png", "dog")
    assert row["to"] == os.path.join("train", "dog", "u1.png")
    assert "unlabeled/u1.png" not in files(root)
    assert os.path.join("train", "dog", "u1.png") in files(root)
    assert [r["action"] for r in log_rows(root)] == ["label"]
    assert log_rows(root)[0]["from"] == os.path.join("unlabeled", "u1.png")
    state = store.state()
    assert (state["labelled"], state["total"], len(state["pending"])) == (1, 4, 3)


def test_a_taken_name_gets_a_new_one_and_nothing_is_overwritten(tmp_path):
    root, queue = data_folder(tmp_path / "d")
    taken = os.path.join(root, "train", "cat", "u0.png")
    with open(taken, "wb") as f:
        f.write(b"the user's own file")
    store = LabelStore(root, queue)
    row = store.label("unlabeled/u0.png", "cat")
    assert row["to"] == os.path.join("train", "cat", "u0-1.png")
    with open(taken, "rb") as f:
        assert f.read() == b"the user's own file"
    store.undo()
    assert os.path.isfile(os.path.join(root, "unlabeled", "u0.png"))
    assert not os.path.exists(os.path.join(root, "train", "cat", "u0-1.png"))


def test_undo_puts_back_the_last_and_only_the_last(tmp_path):
    root, queue = data_folder(tmp_path / "d")
    before = files(root)
    store = LabelStore(root, queue)
    store.label("unlabeled/u0.png", "cat")
    store.label("unlabeled/u1.png", "dog")
    assert store.undo()["path"] == "unlabeled/u1.png"
    assert store.undo()["path"] == "unlabeled/u0.png"
    assert files(root) == before
    with pytest.raises(LabelError, match="nothing to undo") as err:
        store.undo()
    assert err.value.status == 409
    assert [r["action"] for r in log_rows(root)] == [
        "label", "label", "undo", "undo"]


def test_copy_keeps_the_original_and_undo_deletes_the_copy(tmp_path):
    root, queue = data_folder(tmp_path / "d")
    store = LabelStore(root, queue, copy=True)
    store.label("unlabeled/u2.png", "cat")
    source = os.path.join(root, "unlabeled", "u2.png")
    target = os.path.join(root, "train", "cat", "u2.png")
    assert os.path.isfile(source) and os.path.isfile(target)
    assert not os.path.samefile(source, target)  # a copy, not a hard link
    assert log_rows(root)[0]["action"] == "copy"
    store.undo()
    assert os.path.isfile(source) and not os.path.exists(target)


def test_a_new_store_continues_where_the_queue_stands(tmp_path):
    root, queue = data_folder(tmp_path / "d")
    first = LabelStore(root, queue)
    first.label("unlabeled/u0.png", "cat")
    first.label("unlabeled/u3.png", "bird")  # a new class
    first.undo()
    second = LabelStore(root, queue)
    assert [e["path"] for e in second.pending()] == [
        "unlabeled/u1.png", "unlabeled/u2.png", "unlabeled/u3.png"]
    assert second.classes == ["cat", "dog"]  # bird was undone, its folder empty
    with pytest.raises(LabelError, match="already labelled"):
        second.label("unlabeled/u0.png", "dog")
    assert second.undo()["path"] == "unlabeled/u0.png"


@pytest.mark.parametrize("done", ["nothing", "linked"])
def test_a_label_journalled_by_a_killed_process_is_finished(tmp_path, done):
    """Killed after its journal (before the link, or between the link and
    the unlink): the next store completes the move and logs it, once."""
    root, queue = data_folder(tmp_path / "d")
    source = os.path.join(root, "unlabeled", "u1.png")
    target = os.path.join(root, "train", "dog", "u1.png")
    row = log.row("label", "unlabeled/u1.png", "unlabeled/u1.png",
                  os.path.join("train", "dog", "u1.png"), "dog")
    log.begin(root, row, identity=moves.identity(source))
    if done == "linked":
        os.link(source, target)
    store = LabelStore(root, queue)
    assert os.path.isfile(target) and not os.path.exists(source)
    assert [e["path"] for e in store.pending()] == [
        "unlabeled/u0.png", "unlabeled/u2.png", "unlabeled/u3.png"]
    assert [r["to"] for r in log_rows(root)] == [row["to"]]
    assert not os.path.exists(os.path.join(root, log.PENDING_FILE))
    assert not store.problems
    LabelStore(root, queue)
    assert len(log_rows(root)) == 1  # nothing done twice


def test_a_journalled_label_is_not_finished_on_another_file(tmp_path):
    root, queue = data_folder(tmp_path / "d")
    source = os.path.join(root, "unlabeled", "u1.png")
    row = log.row("label", "unlabeled/u1.png", "unlabeled/u1.png",
                  os.path.join("train", "dog", "u1.png"), "dog")
    log.begin(root, row, identity=moves.identity(source))
    os.remove(source)
    with open(source, "wb") as f:  # another image now has that name
        f.write(b"another image")
    store = LabelStore(root, queue)
    assert not os.path.exists(os.path.join(root, "train", "dog", "u1.png"))
    assert os.path.isfile(source) and "could not be finished" in store.problems[0]
    assert not os.path.exists(store.log_path)


def test_an_undo_journalled_by_a_killed_process_is_finished(tmp_path):
    root, queue = data_folder(tmp_path / "d")
    store = LabelStore(root, queue)
    row = store.label("unlabeled/u1.png", "dog")
    source, target = (os.path.join(root, row["from"]),
                      os.path.join(root, row["to"]))
    back = log.row("undo", row["path"], row["to"], row["from"], "dog")
    log.begin(root, back, undoes="label")
    os.link(target, source)  # then killed before the unlink
    again = LabelStore(root, queue)
    assert os.path.isfile(source) and not os.path.exists(target)
    assert [r["action"] for r in log_rows(root)] == ["label", "undo"]
    assert len(again.pending()) == 4


def test_the_last_action_is_not_redone_when_a_store_opens(tmp_path):
    """A move that finished stays finished: the user moving the image on by
    hand, and a new image under the old name, are left alone."""
    root, queue = data_folder(tmp_path / "d")
    LabelStore(root, queue).label("unlabeled/u1.png", "cat")
    os.rename(os.path.join(root, "train", "cat", "u1.png"),
              os.path.join(root, "train", "dog", "u1.png"))
    with open(os.path.join(root, "unlabeled", "u1.png"), "wb") as f:
        f.write(b"a new image")
    store = LabelStore(root, queue)
    assert not os.path.exists(os.path.join(root, "train", "cat", "u1.png"))
    assert "unlabeled/u1.png" in [e["path"] for e in store.pending()]  # new work


def test_an_undone_copy_is_not_undone_again_on_a_users_file(tmp_path):
    root, queue = data_folder(tmp_path / "d")
    store = LabelStore(root, queue, copy=True)
    store.label("unlabeled/u2.png", "cat")
    store.undo()
    mine = os.path.join(root, "train", "cat", "u2.png")
    with open(mine, "wb") as f:
        f.write(b"the user's own")
    LabelStore(root, queue, copy=True)
    with open(mine, "rb") as f:
        assert f.read() == b"the user's own"


def test_an_edited_copy_is_not_deleted_by_undo(tmp_path):
    root, queue = data_folder(tmp_path / "d")
    store = LabelStore(root, queue, copy=True)
    row = store.label("unlabeled/u2.png", "cat")
    with open(os.path.join(root, row["to"]), "ab") as f:
        f.write(b"edited")
    with pytest.raises(LabelError, match="changed since") as err:
        store.undo()
    assert err.value.status == 409 and os.path.exists(os.path.join(root, row["to"]))


def test_log_rows_naming_paths_out_of_the_folder_are_ignored(tmp_path):
    """A labels.csv copied in with a data set must not delete or move
    files outside it."""
    root, queue = data_folder(tmp_path / "d")
    outside = tmp_path / "thesis.tex"
    outside.write_text("mine")
    with open(os.path.join(root, "labels.csv"), "w", newline="") as f:
        f.write("time,action,path,from,to,label\r\n"
                f"2026-01-01T00:00:00+00:00,copy,p,unlabeled/u0.png,{outside},c\r\n"
                "2026-01-01T00:00:00+00:00,label,q,../../x,train/c/x,c\r\n"
                "2026-01-01T00:00:00+00:00,label,r,unlabeled/u1.png,train/c/u1.png,.c\r\n")
    store = LabelStore(root, queue)
    assert store.problems and "3 rows" in store.problems[0]
    with pytest.raises(LabelError, match="nothing to undo"):
        store.undo()
    assert outside.read_text() == "mine"
    assert len(store.pending()) == 4


def test_two_stores_on_one_folder_share_the_queue_and_the_undo(tmp_path):
    root, queue = data_folder(tmp_path / "d")
    before = files(root)
    a, b = LabelStore(root, queue), LabelStore(root, queue)
    a.label("unlabeled/u0.png", "cat")
    b.label("unlabeled/u1.png", "dog")
    with pytest.raises(LabelError, match="already labelled"):
        b.label("unlabeled/u0.png", "dog")
    assert a.undo()["path"] == "unlabeled/u1.png"  # the folder's last action
    assert b.undo()["path"] == "unlabeled/u0.png"
    assert len(a.pending()) == len(b.pending()) == 4
    assert files(root) == before
    assert [r["action"] for r in log_rows(root)] == ["label", "label", "undo",
                                                     "undo"]


def test_a_refused_move_logs_nothing(tmp_path, monkeypatch):
    root, queue = data_folder(tmp_path / "d")
    store = LabelStore(root, queue)

    def refuse(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(moves, "place", refuse)
    with pytest.raises(LabelError, match="Permission denied") as err:
        store.label("unlabeled/u0.png", "cat")
    assert err.value.status == 500
    assert not os.path.exists(store.log_path)
    assert not os.path.exists(os.path.join(root, log.PENDING_FILE))
    assert len(store.pending()) == 4


def test_a_name_with_a_newline_survives_the_log(tmp_path):
    root, queue = data_folder(tmp_path / "d", unlabelled=0)
    odd = os.path.join(root, "unlabeled", "a\nb\u2028c.png")
    with open(os.path.join(root, "train", "cat", "a.png"), "rb") as f:
        data = f.read()
    with open(odd, "wb") as f:
        f.write(data)
    write_queue(queue, [odd])
    store = LabelStore(root, queue)
    store.label("unlabeled/a\nb\u2028c.png", "dog")
    again = LabelStore(root, queue)
    assert again.pending() == [] and log_rows(root)[0]["path"] == (
        "unlabeled/a\nb\u2028c.png")
    assert again.undo()["to"] == os.path.join("train", "dog", "a\nb\u2028c.png")
    assert os.path.isfile(odd)


def test_a_link_inside_the_folder_is_moved_itself_not_its_target(tmp_path):
    root, queue = data_folder(tmp_path / "d")
    os.makedirs(os.path.join(root, "test", "cat"))
    kept = os.path.join(root, "test", "cat", "t.png")
    os.rename(os.path.join(root, "unlabeled", "u0.png"), kept)
    os.symlink(kept, os.path.join(root, "unlabeled", "u0.png"))
    store = LabelStore(root, queue)
    row = store.label("unlabeled/u0.png", "dog")
    assert os.path.islink(os.path.join(root, row["to"])) and os.path.isfile(kept)


def test_a_review_cannot_copy(tmp_path):
    root, queue = data_folder(tmp_path / "d")
    with pytest.raises(KzooError, match="both"):
        LabelStore(root, queue, copy=True, review=True)


def test_a_review_keeps_or_moves_between_classes(tmp_path):
    root, _ = data_folder(tmp_path / "d")
    review = str(tmp_path / "audit.csv")
    write_queue(review, [os.path.join(root, "train", "cat", "a.png"),
                         os.path.join(root, "train", "dog", "a.png")],
                given=["cat", "dog"], suggested=["dog", "cat"], score=["0.9", "0.8"])
    store = LabelStore(root, review, review=True)
    assert store.pending()[0]["given"] == "cat"
    assert store.label("train/cat/a.png", "cat")["action"] == "keep"
    assert os.path.isfile(os.path.join(root, "train", "cat", "a.png"))
    row = store.label("train/dog/a.png", "cat")
    assert row["to"] == os.path.join("train", "cat", "a-1.png")
    assert not os.path.exists(os.path.join(root, "train", "dog", "a.png"))
    store.undo()
    store.undo()  # the keep: nothing moves
    assert os.path.isfile(os.path.join(root, "train", "dog", "a.png"))
    assert len(store.pending()) == 2


@pytest.mark.parametrize("path, status", [
    ("../queue.csv", 400), ("unlabeled/../../queue.csv", 400),
    ("/etc/passwd", 400), ("unlabeled/none.png", 404), ("", 400)])
def test_paths_outside_the_queue_are_refused_and_nothing_moves(tmp_path, path,
                                                                status):
    root, queue = data_folder(tmp_path / "d")
    before = files(root)
    store = LabelStore(root, queue)
    for act in (lambda: store.label(path, "cat"), lambda: store.image_file(path)):
        with pytest.raises(LabelError) as err:
            act()
        assert err.value.status == status
    assert files(root) == before
    assert not os.path.exists(store.log_path)


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path):
    root, queue = data_folder(tmp_path / "d")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not yours")
    link = os.path.join(root, "unlabeled", "evil.png")
    os.symlink(secret, link)
    write_queue(queue, [link, os.path.join(root, "unlabeled", "u0.png")])
    store = LabelStore(root, queue)
    assert [p for p, _ in store.refused] == [link]  # left out when read
    # ...and refused at the request when a queued file becomes a link later.
    victim = os.path.join(root, "unlabeled", "u0.png")
    os.remove(victim)
    os.symlink(secret, victim)
    for act in (lambda: store.label("unlabeled/u0.png", "cat"),
                lambda: store.image_file("unlabeled/u0.png")):
        with pytest.raises(LabelError) as err:
            act()
        assert err.value.status == 403
    assert secret.read_bytes() == b"not yours"
    assert os.path.islink(victim) and not os.path.exists(store.log_path)


@pytest.mark.parametrize("label", ["", ".hidden", "a/b", "..", "x\ny", " cat"])
def test_bad_class_names_are_refused(tmp_path, label):
    root, queue = data_folder(tmp_path / "d")
    store = LabelStore(root, queue)
    with pytest.raises(LabelError) as err:
        store.label("unlabeled/u0.png", label)
    assert err.value.status == 400
    with pytest.raises(KzooError, match="class name"):
        LabelStore(root, queue, classes=[label])


def test_place_never_replaces_a_file(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    with pytest.raises(FileExistsError):
        moves.place(str(a), str(b), copy=False)
    assert (a.read_bytes(), b.read_bytes()) == (b"a", b"b")
