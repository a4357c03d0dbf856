"""The training package: a split that never moves, the promotion rule, the VGG16 weights check,
VGG16's preprocessing inside the model, and a head on a default model's features."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from training import dataset, evaluation, export, finetune
from vault import modelcards

# --- the held-out split ---------------------------------------------------------------------


def test_the_split_depends_on_the_file_alone(tmp_path):
    root = dataset.make_smoke_dataset(tmp_path / "set", per_class=20, size=32)
    before = {e.path.name: e.split for e in dataset.dataset_scan(root).examples}
    # New pictures and a whole new label move no old picture between the splits.
    dataset.make_smoke_dataset(tmp_path / "extra", per_class=30, size=32, labels=["fruit"])
    for path in (tmp_path / "extra" / "fruit").iterdir():
        path.rename(root / "fruit" / f"new-{path.name}")
    after = {e.path.name: e.split for e in dataset.dataset_scan(root).examples}
    assert {name: after[name] for name in before} == before
    assert len(after) == len(before) + 30
    held_out = sum(split == dataset.TEST for split in after.values()) / len(after)
    assert 0.1 < held_out < 0.3


def test_a_photo_under_two_labels_is_on_one_side_of_the_split():
    keys = [f"{n:08x}-photo" for n in range(200)]
    assert all(dataset.split_of(key) == dataset.split_of(key) for key in keys)
    assert {dataset.split_of(key) for key in keys} == {dataset.TRAIN, dataset.TEST}


def test_a_folder_that_is_not_a_label_is_refused(tmp_path):
    dataset.make_smoke_dataset(tmp_path, per_class=1, size=32, labels=["animal"])
    (tmp_path / "aminal").mkdir()
    with pytest.raises(ValueError, match="aminal"):
        dataset.dataset_scan(tmp_path)


def test_a_manifest_refuses_a_changed_held_out_set(tmp_path):
    root = dataset.make_smoke_dataset(tmp_path / "set", per_class=10, size=32)
    data = dataset.dataset_scan(root)
    dataset.manifest_write(data, tmp_path / "dataset.json")
    assert dataset.manifest_read(tmp_path / "dataset.json").labels == data.labels
    data.test[0].path.unlink()
    with pytest.raises(ValueError, match="held-out"):
        dataset.manifest_read(tmp_path / "dataset.json")


# --- scoring --------------------------------------------------------------------------------


def test_scores_count_a_picture_once_with_all_its_labels():
    labels = ["human", "animal", "other"]
    card = modelcards.ModelCard(
        Path("-"), {"thresholds": {"human": 0.5, "animal": 0.5}, "label_map": {}}
    )
    scores = [
        {"human": 0.9, "animal": 0.6},  # human and animal, both right
        {"human": 0.1, "animal": 0.2},  # nothing passes: other
        {"human": 0.7, "animal": 0.1},  # human, but it is an animal
    ]
    truths = [["human", "animal"], ["other"], ["animal"]]
    computed = evaluation.metrics_compute(scores, truths, card, labels)
    assert computed["per_label"]["human"] == {
        "precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1,
    }  # fmt: skip
    assert computed["per_label"]["animal"]["recall"] == 0.5
    assert computed["per_label"]["other"]["f1"] == 1.0
    assert computed["main_label_accuracy"] == round(2 / 3, 4)
    # Rows: true label; columns: main label. The first picture lands on the diagonal.
    assert computed["confusion"] == [[1, 0, 0], [1, 0, 0], [0, 0, 1]]


# --- promotion ------------------------------------------------------------------------------


def _card(directory: Path, name: str, *, active: bool, smoke: bool = False):
    file = directory / f"tagger-{name}.keras"
    file.write_bytes(name.encode() * 100)
    data = export.card_data(
        name=name,
        file=file.name,
        sha256=modelcards.file_sha256(file),
        labels=["human", "animal", "other"],
        input_spec={"size": [32, 32], "resize": "squash", "range": "0-255"},
        source="test",
        licence="Apache-2.0",
        made_by="test",
        smoke=smoke,
    )
    return modelcards.card_write(directory / f"tagger-{name}.json", data | {"active": active})


def _metrics(f1: float, fingerprint: str = "same") -> dict:
    return {"macro_f1": f1, "main_label_accuracy": f1, "test_fingerprint": fingerprint}


def _active_names(directory: Path) -> list[str]:
    return [row.card.name for row in modelcards.cards_scan(directory) if row.card.active]


def test_a_worse_or_equal_candidate_is_not_promoted(tmp_path):
    _card(tmp_path, "old", active=True)
    new = _card(tmp_path, "new", active=False)
    for f1 in (0.5, 0.6):
        result = export.promote(new, candidate_metrics=_metrics(f1), active_metrics=_metrics(0.6))
        assert not result.promoted
    assert _active_names(tmp_path) == ["old"]


def test_a_forced_promotion_is_recorded_in_the_card(tmp_path):
    _card(tmp_path, "old", active=True)
    new = _card(tmp_path, "new", active=False)
    result = export.promote(
        new, candidate_metrics=_metrics(0.1), active_metrics=_metrics(0.6), force=True
    )
    assert result.promoted and result.reason.startswith("forced")
    assert _active_names(tmp_path) == ["new"]
    assert modelcards.card_read(new.path).get("forced") is True


def test_a_better_candidate_becomes_the_one_active_tagger(tmp_path):
    old = _card(tmp_path, "old", active=True)
    new = _card(tmp_path, "new", active=False)
    result = export.promote(new, candidate_metrics=_metrics(0.7), active_metrics=_metrics(0.6))
    assert result.promoted
    assert _active_names(tmp_path) == ["new"]
    assert modelcards.active_card(tmp_path, "tagger").path == new.path
    assert "forced" not in modelcards.card_read(new.path).data
    assert modelcards.card_read(old.path).active is False


def test_models_scored_on_different_pictures_are_not_compared(tmp_path):
    _card(tmp_path, "old", active=True)
    new = _card(tmp_path, "new", active=False)
    with pytest.raises(export.ExportError, match="same held-out"):
        export.promote(new, candidate_metrics=_metrics(0.9, "a"), active_metrics=_metrics(0.1, "b"))
    assert _active_names(tmp_path) == ["old"]


def test_smoke_models_are_never_promoted_nor_put_in_models(tmp_path):
    smoke = _card(tmp_path, "smoke", active=False, smoke=True)
    with pytest.raises(export.ExportError, match="smoke"):
        export.promote(smoke, candidate_metrics=_metrics(1.0), active_metrics=None, force=True)
    with pytest.raises(export.ExportError, match="smoke"):
        export.candidate_install(smoke, export.REPO_MODELS_DIR, metrics={})


def test_the_first_tagger_of_an_empty_directory_is_promoted(tmp_path):
    new = _card(tmp_path, "new", active=False)
    assert export.promote(new, candidate_metrics=_metrics(0.2), active_metrics=None).promoted
    assert _active_names(tmp_path) == ["new"]


# --- VGG16 -----------------------------------------------------------------------------------


def test_vgg16_weights_that_are_not_the_published_file_are_refused(tmp_path):
    short = tmp_path / finetune.VGG16_NOTOP_FILE
    short.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 1000)
    with pytest.raises(finetune.WeightsError, match="not the published"):
        finetune.vgg16_weights_check(short)
    with short.open("r+b") as handle:  # right size, wrong bytes
        handle.truncate(finetune.VGG16_NOTOP_SIZE)
    with pytest.raises(finetune.WeightsError, match="digest"):
        finetune.vgg16_weights_check(short)
    with pytest.raises(finetune.WeightsError, match="no such file"):
        finetune.vgg16_weights_check(tmp_path / "missing.h5")
    data = dataset.dataset_scan(dataset.make_smoke_dataset(tmp_path / "set", 2, 32))
    with pytest.raises(finetune.WeightsError, match="digest"):
        finetune.finetune_vgg16(data, weights=short)
    with pytest.raises(finetune.WeightsError, match="base weights"):
        finetune.finetune_vgg16(data, weights=None)  # random weights only in a smoke run


def test_the_keras_cache_is_where_vgg16_weights_are_looked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert finetune.vgg16_weights_find() is None
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / finetune.VGG16_NOTOP_FILE).write_bytes(b"x")
    assert finetune.vgg16_weights_find() == tmp_path / "models" / finetune.VGG16_NOTOP_FILE
    assert finetune.vgg16_weights_find("~/w.h5") == Path("~/w.h5").expanduser()


def test_vgg16_preprocessing_inside_the_model_matches_keras(tmp_path):
    import keras

    rgb = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    expected = keras.applications.vgg16.preprocess_input(rgb.copy())
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, finetune.caffe_preprocessing()(inputs))
    model.save(tmp_path / "pre.keras")  # a plain layer: saves and loads without our code
    loaded = keras.saving.load_model(tmp_path / "pre.keras")
    np.testing.assert_allclose(loaded.predict(rgb, verbose=0), expected, atol=1e-3)


def test_class_weights_balance_the_labels_and_cover_every_output():
    weights = finetune.class_weights(np.array([0, 0, 0, 1]), classes=3)
    assert weights[1] == pytest.approx(3 * weights[0])
    assert weights[2] == 1.0


# --- a head on a default model's features ---------------------------------------------------


@pytest.fixture
def tiny_default(tmp_path):
    """A stand-in for the default tagger: pooled features, then a 1000-way Dense (logits)."""
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1000)(x)
    models = tmp_path / "models"
    models.mkdir()
    keras.Model(inputs, outputs).save(models / "tagger-tiny.keras")
    file = models / "tagger-tiny.keras"
    data = {
        "name": "tiny-default",
        "task": "tagger",
        "file": file.name,
        "sha256": modelcards.file_sha256(file),
        "format": "keras",
        "source": "test",
        "licence": "Apache-2.0",
        "labels": ["animal", "other"],
        "input": {"size": [32, 32], "resize": "squash", "range": "0-255"},
        "outputs": [f"n{index:08d} thing" for index in range(1000)],
        "output_activation": "softmax-logits",
        "label_map": {"animal": list(range(100))},
        "thresholds": {"animal": 0.5},
        "date": "2026-01-01",
        "active": True,
    }
    return modelcards.card_write(models / "tagger-tiny.json", data)


def test_a_head_on_the_default_features_exports_and_tags_through_the_worker(tmp_path, tiny_default):
    data = dataset.dataset_scan(dataset.make_smoke_dataset(tmp_path / "set", 8, 32))
    trained = finetune.finetune_default_head(data, tiny_default, epochs=3)
    assert trained.licence == "Apache-2.0" and trained.base == tiny_default.model_id
    card = export.candidate_write(trained, tmp_path / "work", name="tiny-head", made_by="test")
    assert card.get("outputs") == data.labels and card.get("output_activation") == "softmax"
    assert "other" not in card.get("label_map") and card.active is False
    assert not [p for p in card.path.parent.iterdir() if p.name.startswith(".")]  # no temp left
    scored = evaluation.evaluate(export.candidate_read(tmp_path / "work"), data)
    assert scored.images == len({e.key for e in data.test})
    assert set(scored.per_label) == set(data.labels)
    default_scored = evaluation.evaluate(tiny_default, data)  # 1000 outputs, via label_map
    assert default_scored.test_fingerprint == scored.test_fingerprint
    assert set(default_scored.columns) <= {"animal", *data.labels}
    plot = evaluation.confusion_plot(scored, tmp_path / "confusion.png")
    assert plot.stat().st_size > 1000

    installed = export.candidate_install(
        card, tiny_default.path.parent, metrics=scored.as_metrics("smoke")
    )
    result = export.promote(
        installed,
        candidate_metrics=scored.as_metrics("smoke"),
        active_metrics=default_scored.as_metrics("smoke") | {"macro_f1": -1.0},
    )
    assert result.promoted
    assert json.loads(installed.path.read_text())["active"] is True
    assert os.stat(installed.file).st_size == os.stat(card.file).st_size
