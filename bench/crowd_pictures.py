"""Pictures of ``--detector crowd`` against ``--detector movenet``: the most crowded photos of
coco-mini's val2017 file (the ones CenterNet was not trained on) whose Flickr licence allows
derivatives (no "NoDerivs"; each photo's licence and address are printed), each with the labelled
people's boxes (thin green; thin blue for crowds and people with fewer than 5 labelled
keypoints, whom the benchmark ignores), MoveNet's people (yellow) and the people the crowd
detector adds (red, its CenterNet score written on them).

    python bench/crowd_pictures.py [--data ../shared/data/real] [--photos 3] [--out docs/crowd_detector.jpg]

Needs ``make movenet``. Prints one JSON line last: per photo, its licence and address,
labelled people, MoveNet's and the crowd detector's counts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HEIGHT = 360  # each photo's height in the picture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "real"))
    parser.add_argument("--photos", type=int, default=3, help="the most crowded val photos to show")
    parser.add_argument("--out", default=str(ROOT / "docs" / "crowd_detector.jpg"))
    args = parser.parse_args()

    from PIL import Image, ImageDraw

    from openhmr.detect.crowd import CrowdDetector
    from openhmr.predict.images import load_image

    file = Path(args.data) / "coco-mini" / "person_keypoints_val2017.json"
    data = json.loads(file.read_text())
    people = {img["id"]: [] for img in data["images"]}
    for ann in data["annotations"]:
        people[ann["image_id"]].append(ann)
    counted = lambda anns: [a for a in anns if a["num_keypoints"] >= 5 and not a["iscrowd"]]
    licences = {lic["id"]: lic["name"] for lic in data["licenses"]}
    may_draw_on = [img for img in data["images"] if "NoDerivs" not in licences[img["license"]]]
    crowded = sorted(may_draw_on, key=lambda img: (-len(counted(people[img["id"]])), img["id"]))[: args.photos]
    detector, rows, panels = CrowdDetector(), [], []
    for img in crowded:
        image = load_image(file.parent / "images" / img["file_name"])
        movenet, crowd = detector.movenet.find(image), detector.people(image)
        added = [p for p in crowd if not any(np.array_equal(p.box, m.box) for m in movenet)]
        picture = Image.fromarray(image)
        draw = ImageDraw.Draw(picture)
        width = max(2, round(image.shape[0] / HEIGHT * 2))
        for ann in people[img["id"]]:
            x, y, w, h = ann["bbox"]
            draw.rectangle([x, y, x + w, y + h], outline=(0, 200, 0) if ann in counted([ann]) else (0, 120, 255), width=1)
        for person, colour in [(p, (255, 220, 0)) for p in movenet] + [(p, (255, 40, 40)) for p in added]:
            draw.rectangle([float(v) for v in person.box], outline=colour, width=width)
        for person in added:
            draw.text((float(person.box[0]) + 3, float(person.box[1]) + 2), f"{person.score:.2f}", fill=(255, 40, 40))
        panels.append(picture.resize((round(image.shape[1] * HEIGHT / image.shape[0]), HEIGHT)))
        rows.append({"photo": img["file_name"], "licence": licences[img["license"]], "flickr": img.get("flickr_url"),
                     "labelled": len(counted(people[img["id"]])), "movenet": len(movenet), "crowd": len(crowd)})  # fmt: skip
    sheet = Image.new("RGB", (sum(p.width for p in panels) + 4 * (len(panels) - 1), HEIGHT), "white")
    x = 0
    for panel in panels:
        sheet.paste(panel, (x, 0))
        x += panel.width + 4
    sheet.save(args.out, quality=85)
    print(json.dumps({"photos": rows}))


if __name__ == "__main__":
    main()
