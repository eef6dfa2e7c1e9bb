"""Pictures of refinement: each photo's prediction without and with ``--refine fit`` (top and
bottom row), through the public API and predict's own overlay.

    python bench/refine_pictures.py [--data ../shared/data/real] [--people 6] [--out docs/refine_lsp.jpg]

People: every 150th of LSP test (images 1001-2000), boxed by MediaPipe as ``predict`` does, plus
the two bundled example photos. Prints one JSON line last (each person's reprojection errors).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TILE = 256


def tile(image: np.ndarray, box, source_width: int) -> np.ndarray:
    """A TILE² square around the person's box (scaled to the overlay, which may be smaller)."""
    from PIL import Image

    im = Image.fromarray(image)
    scale = im.width / source_width
    x, y, w, h = (v * scale for v in box)
    side = 1.5 * max(w, h)
    cx, cy = x + w / 2, y + h / 2
    return np.asarray(im.crop((int(cx - side / 2), int(cy - side / 2), int(cx + side / 2), int(cy + side / 2))).resize((TILE, TILE)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "real"))
    parser.add_argument("--people", type=int, default=6, help="LSP test photos to show")
    parser.add_argument("--mode", default="fit", choices=("fit", "eft"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "refine_lsp.jpg"))
    args = parser.parse_args()

    from PIL import Image

    import openhmr
    from openhmr.predict.images import load_image
    from openhmr.predict.outputs import overlay

    model = openhmr.load_model()
    faces = model.body.faces.cpu().numpy()
    lsp = Path(args.data) / "lsp" / "images"
    photos = [lsp / f"im{i:04d}.jpg" for i in range(1001, 2001, 150)][: args.people]
    photos += [ROOT / "examples" / "astronaut.jpg", ROOT / "examples" / "camera.png"]
    top, bottom, errors = [], [], {}
    for path in photos:
        image = load_image(path)
        boxes = model.detect(image)
        if not boxes:
            continue
        plain = model.predict(image, boxes=boxes[:1])
        refined = model.predict(image, boxes=boxes[:1], refine=args.mode)
        width = image.shape[1]
        top.append(tile(overlay(image, plain, faces), boxes[0].bbox, width))
        bottom.append(tile(overlay(image, refined, faces), boxes[0].bbox, width))
        errors[path.name] = refined.to_dict()["people"][0].get("reprojection_error_px")
    grid = np.concatenate([np.concatenate(top, 1), np.concatenate(bottom, 1)], 0)
    Image.fromarray(grid).save(args.out, quality=85)
    print(json.dumps({"out": args.out, "reprojection_error_px": errors}))


if __name__ == "__main__":
    main()
