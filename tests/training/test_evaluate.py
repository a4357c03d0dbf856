"""The hand-labelled manifest of real photos (training/datasets/real_photos.csv) and the
evaluation that runs the active tagger over it (training/evaluate.py, DESIGN §10)."""

from pathlib import Path

import pytest

from training import evaluate
from vault import modelcards

MODELS = Path(__file__).resolve().parents[2] / "models"
# Main label right on the scikit-image photos. The subset is 21 photos, so this is a floor that
# catches a broken port or mapping, not a precise figure; keep it at what the shipped model
# really reaches (training/datasets/README.md says what the photos are).
SKIMAGE_FLOOR = 0.8


@pytest.fixture(scope="module")
def rows() -> list[evaluate.ManifestRow]:
    return evaluate.manifest_read()


@pytest.fixture(scope="module")
def roots() -> dict:
    return evaluate.source_roots()


def test_manifest_parses_with_a_usable_number_of_photos(rows):
    assert len(rows) >= 40
    assert {row.source for row in rows} == set(evaluate.SOURCES)
    # Every label appears as some photo's main label, or its recall could not be measured.
    assert {row.main_label for row in rows} == set(modelcards.LABELS)


def test_the_held_out_photos_are_never_in_the_tuning_set(rows):
    """The held-out part (never used to choose the mapping or thresholds) is checked like the
    rest, holds the labels the outside testing found weak, and shares no photo with it."""
    held_out = evaluate.manifest_read(evaluate.HELD_OUT)
    assert len(held_out) >= 5
    assert {"landscape", "vehicle"} <= {label for row in held_out for label in row.labels}
    assert not {row.name for row in held_out} & {row.name for row in rows}


def test_every_label_is_a_vault_label_and_main_label_is_among_them(rows):
    for row in rows:
        assert row.labels, row.name
        assert set(row.labels) <= set(modelcards.LABELS), row.name
        assert row.main_label in row.labels, row.name
        assert "other" not in row.labels or row.labels == ("other",), row.name


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("skimage,chelsea.png,cat,cat,", "unknown labels"),
        ("skimage,chelsea.png,animal,other,", "not among its labels"),
        ("skimage,chelsea.png,animal,animal;other,", "cannot be combined"),
        ("pypi,chelsea.png,animal,animal,", "unknown source"),
        ("skimage,/etc/passwd,other,other,", "relative"),
        ("skimage,../__init__.py,other,other,", "relative"),
    ],
)
def test_manifest_read_refuses_bad_rows(tmp_path, line, message):
    manifest = tmp_path / "bad.csv"
    manifest.write_text(f"source,path,main_label,labels,note\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        evaluate.manifest_read(manifest)


def test_manifest_read_refuses_a_photo_listed_twice(tmp_path):
    manifest = tmp_path / "twice.csv"
    row = "skimage,chelsea.png,animal,animal,cat"
    manifest.write_text(f"source,path,main_label,labels,note\n{row}\n{row}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="listed twice"):
        evaluate.manifest_read(manifest)


@pytest.mark.parametrize("source", evaluate.SOURCES)
def test_every_photo_of_an_installed_source_exists_and_decodes(rows, roots, source):
    if roots[source] is None:
        if source.startswith("opencv-"):
            pytest.skip("Debian's opencv-doc is not installed")
        pytest.fail(f"{source} is a dependency of the vault's training stack")
    held_out = evaluate.manifest_read(evaluate.HELD_OUT)
    for row in (row for row in [*rows, *held_out] if row.source == source):
        file = evaluate.photo_file(row, roots)
        assert file is not None, f"{row.name} is missing"
        image = evaluate.photo_open(file)
        assert image.mode == "RGB" and min(image.size) >= 100, row.name


def test_missing_photos_are_skipped_not_failed(rows):
    # As when opencv-doc is not installed: nothing is tagged, every row counts as missing.
    results, missing = evaluate.evaluate(None, rows, dict.fromkeys(evaluate.SOURCES))
    assert results == [] and len(missing) == len(rows)


def _result(main: str, given: list[str], labels: tuple[str, ...] | None = None):
    return evaluate.PhotoResult(
        name=f"skimage:{main}-{'-'.join(given)}.png",
        main_label=main,
        labels=labels or (main,),
        given=[(label, 0.9) for label in given],
    )


def test_scores_count_given_against_true_labels():
    results = [
        _result("animal", ["animal"]),
        _result("animal", ["other"]),
        _result("other", ["animal"]),
        _result("human", ["vehicle", "human"], labels=("human", "vehicle")),
    ]
    counts = evaluate.label_counts(results)
    assert counts["animal"] == {
        "support": 2,
        "given": 2,
        "true_positives": 1,
        "precision": 0.5,
        "recall": 0.5,
    }
    assert counts["vehicle"]["precision"] == 1.0 and counts["vehicle"]["recall"] == 1.0
    assert counts["fruit"]["precision"] is None and counts["fruit"]["recall"] is None
    # The main label is right only when it is the tagger's best label.
    assert [r.correct for r in results] == [True, False, False, False]
    assert evaluate.main_accuracy(results) == {"correct": 1, "total": 4, "accuracy": 0.25}


@pytest.fixture(scope="module")
def tagger():
    try:
        card = modelcards.active_card(MODELS, "tagger")
    except modelcards.CardError as error:
        # Only an absent model is a reason to skip; a card that does not match its file fails.
        if "missing" in str(error) or "no active" in str(error):
            pytest.skip(f"no shipped tagger: {error}")
        raise
    pytest.importorskip("keras")
    from worker.ai.tagger import load_tagger_card

    return load_tagger_card(card)


def test_shipped_tagger_gets_the_main_label_of_skimage_photos_right(tagger, rows, roots):
    subset = [row for row in rows if row.source == "skimage"]
    results = [
        evaluate.photo_evaluate(tagger, row, evaluate.photo_open(evaluate.photo_file(row, roots)))
        for row in subset
    ]
    accuracy = evaluate.main_accuracy(results)
    misses = [(r.name, r.main_label, r.given) for r in results if not r.correct]
    assert accuracy["accuracy"] >= SKIMAGE_FLOOR, misses
