"""The labelling page in headless Chromium: labels by click and by key,
skip, undo, a new class, a reload, and the images on screen; what ends on
disk and in labels.csv is checked file by file."""

import os

from PIL import Image

from tests.labeling.helpers import Served, data_folder, files, log_rows, write_queue


def _progress(page, text):
    page.wait_for_function(
        "t => document.getElementById('progress').textContent === t", arg=text)


def _current(page):
    return page.get_attribute("#current", "data-path")


def test_label_by_click_and_key_undo_skip_and_reload(served, browser_page):
    page = browser_page
    page.goto(served.server.url)
    _progress(page, "0 of 4 labelled")
    assert _current(page) == "unlabeled/u0.png"
    page.click("button[data-label=dog]")             # u0: dog, by click
    _progress(page, "1 of 4 labelled")
    assert _current(page) == "unlabeled/u1.png"
    page.keyboard.press("1")                         # u1: cat, by key
    _progress(page, "2 of 4 labelled")
    page.keyboard.press("Backspace")                 # undo u1
    _progress(page, "1 of 4 labelled")
    assert _current(page) == "unlabeled/u1.png"
    page.keyboard.press("2")                         # u1: dog
    _progress(page, "2 of 4 labelled")
    assert _current(page) == "unlabeled/u2.png"
    page.keyboard.press(" ")                         # skip u2
    page.wait_for_function(
        "() => document.getElementById('current').dataset.path === 'unlabeled/u3.png'")
    page.keyboard.press("1")                         # u3: cat
    _progress(page, "3 of 4 labelled")
    assert _current(page) == "unlabeled/u2.png"      # the skipped one comes back

    page.reload()                                    # the queue stands
    _progress(page, "3 of 4 labelled")
    assert _current(page) == "unlabeled/u2.png"
    page.fill("#new-class", "bird")                  # a class added on the page
    page.click("#add")
    page.wait_for_selector("button[data-label=bird]")
    page.keyboard.press("3")                         # u2: bird, its key
    _progress(page, "4 of 4 labelled")
    assert page.is_visible("#done")

    root = served.root
    assert files(root) == sorted(os.path.join(*p) for p in [
        ("train", "bird", "u2.png"), ("train", "cat", "a.png"),
        ("train", "cat", "u3.png"), ("train", "dog", "a.png"),
        ("train", "dog", "u0.png"), ("train", "dog", "u1.png")])
    rows = log_rows(root)
    assert [(r["action"], r["path"], r["label"]) for r in rows] == [
        ("label", "unlabeled/u0.png", "dog"), ("label", "unlabeled/u1.png", "cat"),
        ("undo", "unlabeled/u1.png", "cat"), ("label", "unlabeled/u1.png", "dog"),
        ("label", "unlabeled/u3.png", "cat"), ("label", "unlabeled/u2.png", "bird")]
    assert rows[-1]["to"] == os.path.join("train", "bird", "u2.png")


def test_images_render_and_small_ones_are_scaled_up(served, browser_page, tmp_path):
    page = browser_page
    page.goto(served.server.url)
    _progress(page, "0 of 4 labelled")
    page.wait_for_function(
        "() => document.getElementById('current').complete && "
        "document.getElementById('current').naturalWidth > 0")
    sizes = page.eval_on_selector_all(
        "#current, #next img",
        "els => els.map(e => [e.naturalWidth, e.getBoundingClientRect().width])")
    assert len(sizes) == 4  # the image and the 3 after it
    assert all(natural == 8 for natural, _ in sizes)  # every image decoded
    shown = sizes[0][1]
    assert shown >= 8 * 40  # 8 px scaled up to fit about 384 px
    assert "pixelated" in page.get_attribute("#current", "class")
    shot = str(tmp_path / "page.png")
    page.screenshot(path=shot)
    with Image.open(shot) as image:
        assert image.size == (1100, 800)
        assert len(set(image.convert("L").getdata())) > 10  # not a blank page


def test_a_review_keeps_or_relabels_from_the_page(tmp_path, browser_page):
    """kzoo label --review: the page shows the given and the suggested
    class; the given class's key keeps the image, another's moves it."""
    root, _ = data_folder(tmp_path / "d")
    review = str(tmp_path / "audit.csv")
    write_queue(review, [os.path.join(root, "train", "cat", "a.png"),
                         os.path.join(root, "train", "dog", "a.png")],
                given=["cat", "dog"], suggested=["dog", "cat"],
                score=["0.97", "0.91"], issue=["label", "disagrees"])
    server = Served(root, review, review=True)
    try:
        page = browser_page
        page.goto(server.server.url)
        _progress(page, "0 of 2 labelled")
        assert page.text_content("#review") == (
            "given: cat · suggested: dog · score 0.97 · label")
        assert "suggested" in page.get_attribute("button[data-label=dog]", "class")
        page.keyboard.press("1")                     # cat: the given class, kept
        _progress(page, "1 of 2 labelled")
        assert "kept" in page.text_content("#message")
        page.click("button[data-label=cat]")         # dog/a.png relabelled cat
        _progress(page, "2 of 2 labelled")
    finally:
        server.close()
    assert [f for f in files(root) if f.startswith("train")] == [
        os.path.join("train", "cat", "a-1.png"), os.path.join("train", "cat", "a.png")]
    assert [r["action"] for r in log_rows(root)] == ["keep", "label"]


def test_a_second_tab_is_told_and_moves_on(served, browser_page):
    """Two tabs on one queue: a label given in one is refused in the other
    (shown as an error), which then shows where the queue stands."""
    first = browser_page
    second = first.context.new_page()
    for page in (first, second):
        page.goto(served.server.url)
        _progress(page, "0 of 4 labelled")
    first.keyboard.press("1")                         # u0: cat, in tab 1
    _progress(first, "1 of 4 labelled")
    assert _current(second) == "unlabeled/u0.png"     # tab 2 has not asked
    second.keyboard.press("2")                        # u0 again, in tab 2
    _progress(second, "1 of 4 labelled")
    assert "already labelled" in second.text_content("#message.error")
    assert _current(second) == "unlabeled/u1.png"
    assert [r["label"] for r in log_rows(served.root)] == ["cat"]
