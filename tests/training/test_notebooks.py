"""Every notebook in training/notebooks runs top to bottom, headless, in smoke mode (a generated
dataset, a random VGG16 trained one epoch, a temporary models directory), and the model they
export loads through the worker's loader and tags a real photo."""

import json
from pathlib import Path

import papermill
import pytest
import skimage
from PIL import Image

from training import export
from vault import modelcards
from worker.ai.tagger import load_tagger_card

NOTEBOOKS = Path(__file__).resolve().parents[2] / "training" / "notebooks"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """Run the notebooks in order, sharing one working directory; returns it."""
    work = tmp_path_factory.mktemp("notebooks")
    books = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert [book.name for book in books if book.name[:2] in ("01", "02", "03", "04")] == [
        "01_dataset.ipynb",
        "02_finetune.ipynb",
        "03_evaluate.ipynb",
        "04_export.ipynb",
    ]
    for book in books:
        papermill.execute_notebook(
            str(book),
            str(work / f"out-{book.name}"),
            parameters={"SMOKE": True, "WORK_DIR": str(work)},
            cwd=str(NOTEBOOKS),  # as a person starting Jupyter in the folder would
            kernel_name="python3",
            progress_bar=False,
            execution_timeout=600,
        )
    return work


def test_the_notebooks_export_a_smoke_model_that_the_worker_can_load(smoke_run):
    cards = [modelcards.card_read(p) for p in sorted((smoke_run / "models").glob("*.json"))]
    [smoke] = [card for card in cards if card.get("smoke")]
    assert smoke.active is False  # never promoted, even into a scratch directory
    assert smoke.get("metrics")["promotion_metric"] == "macro_f1"
    assert smoke.get("outputs") == list(modelcards.LABELS)
    assert (smoke_run / "confusion-candidate.png").stat().st_size > 1000
    # Not put into models/: the real directory holds no smoke card.
    assert not [
        path
        for path in export.REPO_MODELS_DIR.glob("*.json")
        if json.loads(path.read_text()).get("smoke")
    ]

    tagger = load_tagger_card(smoke)
    cat = Image.open(Path(skimage.__file__).parent / "data" / "chelsea.png").convert("RGB")
    labels = tagger.tag(cat)
    assert labels and all(item.label in smoke.get("labels") for item in labels)
    assert all(0.0 <= item.score <= 1.0 for item in labels)
