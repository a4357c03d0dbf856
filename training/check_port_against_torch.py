"""Compare the ported Keras tagger with the PyTorch original on every real photo available
offline, and record the numbers in the model card's `metrics.port_check`.

Run by hand only: it imports torch, which the vault never installs. CI and the tests do not run
it. Recipe (torch in a throwaway venv that also sees the project's ML stack):

    python3.11 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0
    /tmp/torchvenv/bin/pip install --no-deps efficientnet-lite-pytorch==0.1.0
    echo "$PWD/.venv/lib/python3.11/site-packages" \\
        > /tmp/torchvenv/lib/python3.11/site-packages/vault-venv.pth
    apt-get install -y opencv-doc   # more real photos (optional)
    /tmp/torchvenv/bin/python -m training.check_port_against_torch --card models/

Photos: scikit-image's and matplotlib's sample photos and Debian opencv-doc's example images,
minus the synthetic ones (logos, charts, text). Both models get the same input (the worker's
centre crop); the original gets the model's own normalisation, (x - 127) / 128.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from training import port_efficientnet_lite0 as lite0

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
# Drawings, renders, logos, charts, disparity maps and test patterns: not photos.
SYNTHETIC = re.compile(
    r"^(chessboard.*|color|horse|logo2?|page|phantom|text|Minduka_Present_Blue_Pack"
    r"|Blender_Suzanne\d|HappyFish|LinuxLogo|WindowsLogo|aloeGT|blox|cards|detect_blob|digits"
    r"|ellipses|gradient|imageText.|mask|ml|notes|opencv-logo.*|pca_test1|pic\d|starry_night"
    r"|templ|tmpl)$"
)


def photos() -> list[Path]:
    import matplotlib
    import skimage

    folders = [
        Path(skimage.__file__).parent / "data",
        Path(matplotlib.get_data_path()) / "sample_data",
        OPENCV_DATA,
    ]
    found = []
    for folder in folders:
        for path in sorted(folder.glob("*")):
            if path.suffix.lower() in {".jpg", ".jpeg", ".png"} and not SYNTHETIC.match(path.stem):
                found.append(path)
    return found


def torch_model():
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    # torch's own loader (weights_only) and a strict load: every tensor must fit the original.
    model = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(lite0.weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    torch.set_grad_enabled(False)
    return model


def torch_logits(model, batch: np.ndarray) -> np.ndarray:
    import torch

    normalised = (batch - lite0.INPUT_MEAN) / lite0.INPUT_STD
    return model(torch.from_numpy(normalised.transpose(0, 3, 1, 2).copy())).numpy()


def _labels(row: np.ndarray, card: dict) -> list[str]:
    """The card's labels for one row of logits (the worker's rule, restated for the report)."""
    probabilities = np.exp(row - row.max())
    probabilities /= probabilities.sum()
    scores = {label: float(probabilities[idx].sum()) for label, idx in card["label_map"].items()}
    given = [label for label, score in scores.items() if score >= card["thresholds"][label]]
    return sorted(given, key=lambda label: -scores[label])


def main(argv: list[str] | None = None) -> int:
    import keras

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--card", type=Path, default=Path("models"), help="the models/ folder")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch the card")
    args = parser.parse_args(argv)
    keras_path = args.card / f"{lite0.STEM}.keras"
    card_path = args.card / f"{lite0.STEM}.json"
    card = json.loads(card_path.read_text())
    classes = card["outputs"]
    ported = keras.saving.load_model(keras_path)
    original = torch_model()

    paths = photos()
    agree, worst, rows, labels = 0, 0.0, [], {}
    for path in paths:
        batch = lite0.photo_input(path)[None]
        theirs, ours = torch_logits(original, batch)[0], lite0.logits(ported, batch)[0]
        difference = float(np.abs(theirs - ours).max())
        worst = max(worst, difference)
        agree += int(theirs.argmax() == ours.argmax())
        rows.append((path.name, classes[int(theirs.argmax())], classes[int(ours.argmax())]))
        given = _labels(ours, card)
        if given:
            labels[path.name] = given
        print(f"{path.name:28} {difference:.2e}  torch {rows[-1][1]:32} keras {rows[-1][2]}")
    summary = {
        "photos": len(paths),
        "top1_agreement": f"{agree}/{len(paths)}",
        "max_abs_logit_diff": float(f"{worst:.3g}"),
        "photo_sets": "skimage.data, matplotlib sample_data, Debian opencv-doc examples",
        "reference": "efficientnet-lite-pytorch==0.1.0 on torch (CPU), same input",
        "labels": labels,  # what the card's label_map and thresholds give (other: omitted)
    }
    print(json.dumps(summary, indent=1))
    if agree != len(paths):
        print("FAIL: top-1 differs")
        return 1
    if not args.no_write:
        # The metrics do not change the .keras file, so its sha256 in the card stays right.
        card["metrics"] = {**card.get("metrics", {}), "port_check": summary}
        text = json.dumps(card, indent=1) + "\n"
        lite0._write_atomically(card_path, lambda path: path.write_text(text, encoding="utf-8"))
        print(f"updated {card_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
