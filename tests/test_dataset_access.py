"""A link names built-in datasets only; paths only inside the session's uploads or
the operator's DLVIZ_DATA_DIRS, with one message that never tells whether a path exists."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from dlviz.data import DATASETS, DatasetParams
from dlviz.data.access import NOT_ALLOWED, check_dataset_access
from dlviz.errors import UserError
from dlviz.workspace import adapt_to_dataset, default_workspace


def _pets(root):
    for cls, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        os.makedirs(root / cls, exist_ok=True)
        for i in range(6):
            Image.new("RGB", (20, 20), colour).save(root / cls / f"{cls[0]}{i}.png")
    return root


def _denied(key, roots) -> str:
    with pytest.raises(UserError) as e:
        check_dataset_access(key, roots)
    return str(e.value)


# -- the library check ---------------------------------------------------------------

def test_builtin_keys_always_pass():
    for key in DATASETS:
        check_dataset_access(key, [])
    check_dataset_access("no-such-builtin", [])     # load_dataset rejects it, without the disk


def test_paths_only_inside_allowed_roots(tmp_path):
    data = _pets(tmp_path / "data")
    check_dataset_access(f"folder:{data}", [str(data)])
    check_dataset_access(f"folder:{data / 'cats'}", [str(data)])
    check_dataset_access(f"idx:{data}/train-images.idx", [str(data)])    # need not exist yet
    assert _denied(f"folder:{data}", []) == NOT_ALLOWED
    assert _denied(f"folder:{data}", [str(tmp_path / 'other')]) == NOT_ALLOWED
    # a sibling whose name starts with the root's is not inside it
    (tmp_path / "data-evil").mkdir()
    assert _denied(f"folder:{tmp_path / 'data-evil'}", [str(data)]) == NOT_ALLOWED


def test_dotdot_and_symlinks_are_resolved_before_the_check(tmp_path):
    data = _pets(tmp_path / "data")
    secret = tmp_path / "secret"
    secret.mkdir()
    assert _denied(f"folder:{data}/../secret", [str(data)]) == NOT_ALLOWED
    (data / "link").symlink_to(secret)
    assert _denied(f"folder:{data / 'link'}", [str(data)]) == NOT_ALLOWED
    # a root given through a link counts as where it points
    (tmp_path / "root-link").symlink_to(data)
    check_dataset_access(f"folder:{data / 'cats'}", [str(tmp_path / "root-link")])
    check_dataset_access(f"folder:{tmp_path / 'root-link' / 'cats'}", [str(data)])


def test_one_message_whether_or_not_the_path_exists(tmp_path):
    data = _pets(tmp_path / "data")
    roots = [str(tmp_path / "uploads")]
    messages = {_denied(k, roots) for k in (f"folder:{data}", "folder:/etc", "folder:/no/such/dir",
                                            "idx:/etc/passwd", "folder:", "folder:~", "idx:../..")}
    assert messages == {NOT_ALLOWED}
    assert "/etc" not in NOT_ALLOWED and "not found" not in NOT_ALLOWED


def test_the_cli_stays_unrestricted(tmp_path):
    from dlviz.data import load_dataset
    data = _pets(tmp_path / "data")
    ds = load_dataset(f"folder:{data}", DatasetParams(test_fraction=0.25))
    assert ds.classes == ("cats", "dogs")


# -- the Build page, opened from a link ------------------------------------------------

def _folder_workspace(path):
    from dlviz.data import folder
    params = DatasetParams(test_fraction=0.25)
    ds = folder.load(str(path), params)
    return adapt_to_dataset(default_workspace(), f"folder:{path}", params, ds.input_shape,
                            ds.output_size, ds.task)


def _open_build(ws) -> tuple[AppTest, list[str]]:
    """Open the link, then the Build page; the warnings and errors of both runs."""
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.query_params["net"] = ws.to_url()
    at.run()
    messages = _messages(at)            # a link's message shows on the page it lands on
    at.switch_page("app_pages/build.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at, messages + _messages(at)


def _messages(at) -> list[str]:
    return [m.value for m in (*at.warning, *at.error)]


def _page_text(at) -> str:
    return " ".join(str(getattr(e, "value", "")) for e in (*at.caption, *at.markdown, *at.info,
                                                          *at.warning, *at.error))


def test_a_link_to_a_server_folder_shows_nothing_of_it(tmp_path, monkeypatch):
    monkeypatch.delenv("DLVIZ_DATA_DIRS", raising=False)
    data = _pets(tmp_path / "pets")
    ws = _folder_workspace(data)
    seen = []
    for key in (f"folder:{data}", "folder:/etc", f"folder:{tmp_path / 'no-such-dir'}"):
        at, messages = _open_build(replace(ws, dataset=key))
        assert len(messages) == 1, messages
        assert NOT_ALLOWED in messages[0]
        assert not at.get("image")                       # no images of the folder
        text = _page_text(at)
        assert "cats" not in text and "dogs" not in text
        assert "not found" not in text
        seen.append(messages[0])
    assert len(set(seen)) == 1                          # exists or not: the same message


def test_a_folder_the_operator_allows_opens_from_a_link(tmp_path, monkeypatch):
    data = _pets(tmp_path / "pets")
    monkeypatch.setenv("DLVIZ_DATA_DIRS", os.pathsep.join([str(tmp_path / "elsewhere"), str(tmp_path)]))
    at, messages = _open_build(_folder_workspace(data))
    assert messages == []
    assert at.get("image")                               # the sample grid
    assert "cats" in _page_text(at) and "dogs" in _page_text(at)
