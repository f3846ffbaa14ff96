import pytest

from kzoo.testing.images import make_image_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """train/<class> (8 each), test/<class> (4 each) and 30 unlabeled/ files."""
    root = str(tmp_path_factory.mktemp("images") / "data")
    return make_image_folder(root, classes=("a", "b", "c"), per_class=8, size=16,
                             splits=("train", "test"), unlabeled=30)
