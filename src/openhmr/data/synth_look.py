"""How a synthetic person looks in the ``photo`` look: skin, hair or a hat, clothes with
sleeves, legs and patterns, shoes, and the light that falls on them.

Everything is per vertex (Anny has no texture coordinates): each vertex gets a *region* once
per body (skin, hair, hat, top, sleeve, bottom, leg, shoe), and a sampled :class:`Outfit`
colours the regions, with patterns laid out in the rest pose's coordinates so that they move
with the body. Lights follow photographers' key + fill + ambient with colour temperatures.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

# Vertex regions. Sleeves and legs are split so an outfit can cover them or leave skin.
SKIN, HAIR, CROWN, TOP, UPPER_SLEEVE, LOWER_SLEEVE, BOTTOM, THIGH, SHIN, SHOE = range(10)

# Skin from very light to very dark (sRGB in [0, 1]); a tone is a point on this line.
SKIN_TONES = np.array([
    [0.98, 0.87, 0.78], [0.93, 0.76, 0.64], [0.83, 0.62, 0.48], [0.66, 0.45, 0.32], [0.46, 0.30, 0.20],
    [0.28, 0.18, 0.12],
])  # fmt: skip
HAIR_COLOURS = np.array([
    [0.04, 0.03, 0.03], [0.14, 0.09, 0.06], [0.30, 0.19, 0.11], [0.72, 0.58, 0.38], [0.50, 0.22, 0.10],
])  # fmt: skip  black, dark brown, brown, blond, red (grey comes with age)
# Cloth people actually wear: denim, black, white, greys, navy, khaki, olive, burgundy.
CLOTH_COLOURS = np.array([
    [0.18, 0.25, 0.38], [0.06, 0.06, 0.07], [0.90, 0.90, 0.88], [0.45, 0.45, 0.46], [0.10, 0.13, 0.25],
    [0.70, 0.62, 0.46], [0.30, 0.33, 0.20], [0.42, 0.10, 0.14],
])  # fmt: skip
PATTERNS = ("solid", "stripes", "checks", "print", "two-tone")


@dataclasses.dataclass
class Garment:
    colours: np.ndarray  # (2, 3) main and second colour
    pattern: str  # one of PATTERNS
    frequency: float  # pattern cycles per metre
    direction: np.ndarray  # (3,) unit: the pattern's axis in rest coordinates
    phase: float


@dataclasses.dataclass
class Outfit:
    skin: np.ndarray  # (3,)
    hair: np.ndarray | None  # (3,) or None for a bald head
    hat: np.ndarray | None  # (3,) or None
    top: Garment
    bottom: Garment
    shoes: np.ndarray | None  # (3,) or None for bare feet
    sleeves: int  # 0 none, 1 short, 2 long
    legs: int  # 0 none (briefs), 1 shorts, 2 long
    folds: tuple[float, np.ndarray]  # strength, (6, 4) random waves (direction xyz, phase) for creases


@dataclasses.dataclass
class Lighting:
    ambient: np.ndarray  # (3,) colour times intensity
    key: tuple[float, np.ndarray, np.ndarray]  # intensity, direction the light travels (camera axes), colour
    fill: tuple[float, np.ndarray, np.ndarray]


def skin_tone(rng: np.random.Generator) -> np.ndarray:
    """(3,) a skin colour anywhere on :data:`SKIN_TONES`' line, slightly jittered."""
    t = rng.uniform(0.0, len(SKIN_TONES) - 1)
    low = int(t)
    high = min(low + 1, len(SKIN_TONES) - 1)
    tone = SKIN_TONES[low] + (t - low) * (SKIN_TONES[high] - SKIN_TONES[low])
    return np.clip(tone * rng.uniform(0.92, 1.05, 3), 0, 1)


def cloth_colour(rng: np.random.Generator) -> np.ndarray:
    """(3,) half the time a common cloth colour, otherwise any hue, mostly muted."""
    if rng.random() < 0.5:
        return np.clip(CLOTH_COLOURS[rng.integers(len(CLOTH_COLOURS))] * rng.uniform(0.8, 1.2) + rng.normal(0, 0.03, 3), 0, 1)
    import colorsys

    return np.array(colorsys.hsv_to_rgb(rng.random(), rng.beta(1.5, 2.5), rng.uniform(0.1, 0.95)))


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def garment(rng: np.random.Generator) -> Garment:
    pattern = PATTERNS[rng.choice(len(PATTERNS), p=[0.4, 0.2, 0.12, 0.16, 0.12])]
    # Stripes mostly run round the body (their axis is the height), checks along two axes.
    direction = np.array([0.0, 1.0, 0.0]) if rng.random() < 0.7 else _unit(rng)
    return Garment(np.stack([cloth_colour(rng), cloth_colour(rng)]), pattern, float(rng.uniform(10.0, 45.0)),
                   direction, float(rng.uniform(0, 2 * np.pi)))


def sample_outfit(rng: np.random.Generator, age: float) -> Outfit:
    """An outfit; ``age`` is Anny's phenotype value in [0, 1] (grey hair grows likelier with it)."""
    skin = skin_tone(rng)
    hair = None
    if rng.random() < 0.9:
        grey = rng.random() < max(0.0, age - 0.55) * 1.5
        hair = np.full(3, rng.uniform(0.45, 0.8)) if grey else HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.8, 1.2)
    hat = cloth_colour(rng) if rng.random() < 0.15 else None
    sleeves = int(rng.choice(3, p=[0.2, 0.4, 0.4]))
    legs = int(rng.choice(3, p=[0.1, 0.3, 0.6]))
    shoes = None if rng.random() < 0.1 else cloth_colour(rng) * rng.uniform(0.3, 1.0)
    waves = np.c_[np.stack([_unit(rng) * rng.uniform(15.0, 60.0) for _ in range(6)]), rng.uniform(0, 2 * np.pi, 6)]
    return Outfit(skin, hair, hat, garment(rng), garment(rng), shoes, sleeves, legs, (float(rng.uniform(0.05, 0.25)), waves))


def kelvin_to_rgb(kelvin: float) -> np.ndarray:
    """(3,) the colour of a black body at ``kelvin`` (1,000-40,000 K), brightest channel 1
    (Tanner Helland's fit of the CIE 1964 colour matching functions)."""
    t = kelvin / 100.0
    red = 1.0 if t <= 66 else 1.29293618606 * (t - 60) ** -0.1332047592
    green = 0.39008157876 * np.log(t) - 0.63184144378 if t <= 66 else 1.12989086089 * (t - 60) ** -0.0755148492
    blue = 1.0 if t >= 66 else (0.0 if t <= 19 else 0.54320678911 * np.log(t - 10) - 1.19625408914)
    rgb = np.clip([red, green, blue], 0.0, 1.0)
    return rgb / rgb.max()


def sample_lighting(rng: np.random.Generator, backdrop_mean: np.ndarray) -> Lighting:
    """Key light from the camera's side (mostly above), a weaker fill from the other side,
    and an ambient term tinted by the backdrop's mean colour (``backdrop_mean`` (3,) in [0, 1])
    so that the body is lit roughly like its scene."""
    brightness = float(np.clip(backdrop_mean.mean() / 0.45, 0.4, 1.6))
    side = rng.choice([-1.0, 1.0])
    key_dir = np.array([side * rng.uniform(0.0, 1.2), rng.uniform(-0.2, 1.2), 1.0])
    fill_dir = np.array([-side * rng.uniform(0.3, 1.5), rng.uniform(-0.3, 0.6), 1.0])
    key = (float(rng.uniform(1.5, 4.0) * brightness), key_dir / np.linalg.norm(key_dir), kelvin_to_rgb(rng.uniform(2800, 7500)))
    fill = (float(key[0] * rng.uniform(0.15, 0.5)), fill_dir / np.linalg.norm(fill_dir), kelvin_to_rgb(rng.uniform(4000, 9000)))
    tint = 0.5 + 0.5 * backdrop_mean / max(float(backdrop_mean.mean()), 1e-3)
    ambient = np.clip(tint * rng.uniform(0.15, 0.4) * brightness, 0.0, 1.0)
    return Lighting(ambient, key, fill)


class BodyRegions:
    """Each vertex's region, from Anny's skinning (dominant bone) and the rest pose.

    ``region`` (V,) one of the region constants; ``rest`` (V, 3) the rest-pose vertices of a
    typical adult (y down, facing -z), where the patterns are laid out."""

    def __init__(self, body):
        with torch.no_grad():
            out = body(torch.zeros(1, 3), torch.zeros(1, len(body.joint_names) - 1, 3), torch.tensor([[0.5, 0.6, 0.5, 0.5, 0.5, 0.5]]))
        rest, joints = out.vertices[0].numpy(), out.joints[0].numpy()
        names = list(body.joint_names)
        bone = np.array(names)[body.dominant_joints().numpy()]
        side = np.char.replace(np.char.replace(bone, "Left", ""), "Right", "")
        side = np.char.replace(np.char.replace(side, "LHip", "Hip"), "RHip", "Hip")
        region = np.full(len(rest), TOP)

        def along(name: str, child: str) -> np.ndarray:
            """Each vertex's position along the bone from joint ``name`` to ``child`` (0 to 1), left or right."""
            t = np.zeros(len(rest))
            for s in ("Left", "Right"):
                a, b = joints[names.index(s + name)], joints[names.index(s + child)]
                t_s = (rest - a) @ (b - a) / np.dot(b - a, b - a)
                t = np.where(np.char.startswith(bone, s), t_s, t)
            return t

        region[np.isin(side, ["Hips", "HipJoint"])] = BOTTOM
        region[side == "UpLeg"] = np.where(along("UpLeg", "Leg")[side == "UpLeg"] < 0.5, BOTTOM, THIGH)
        region[side == "Leg"] = SHIN
        region[np.isin(side, ["Foot", "ToeBase"])] = SHOE
        region[side == "Arm"] = np.where(along("Arm", "ForeArm")[side == "Arm"] < 0.55, UPPER_SLEEVE, LOWER_SLEEVE)
        region[side == "ForeArm"] = LOWER_SLEEVE
        region[np.isin(side, ["Hand", "FingerBase", "HandFinger1", "LThumb", "RThumb"])] = SKIN
        head = np.isin(bone, ["Neck", "Neck1", "Head"])
        region[head] = SKIN
        # Hair: above the brow, and the back of the head down to the nape.
        head_top, head_back = rest[head, 1].min(), rest[head, 2].max()
        brow = head_top + 0.38 * (rest[bone == "Head", 1].max() - head_top)
        centre_z = rest[bone == "Head", 2].mean()
        hairline = head_top + 0.5 * (brow - head_top)  # the forehead stays bare
        front = rest[:, 2] < centre_z
        above = np.where(front, rest[:, 1] < hairline, rest[:, 1] < brow)
        hair = head & (above | ((rest[:, 2] > centre_z + 0.2 * (head_back - centre_z)) & (rest[:, 1] < brow + 0.12)))
        region[hair] = HAIR
        region[head & above] = CROWN  # what a cap covers
        self.region, self.rest = region, rest


def vertex_colours(regions: BodyRegions, outfit: Outfit) -> np.ndarray:
    """(V, 3) in [0, 1]: the outfit painted on the body, creases darkening the clothes."""
    region, rest = regions.region, regions.rest
    colours = np.tile(outfit.skin, (len(rest), 1))
    clothed_top = (region == TOP) | ((region == UPPER_SLEEVE) & (outfit.sleeves >= 1)) | ((region == LOWER_SLEEVE) & (outfit.sleeves == 2))
    clothed_bottom = (region == BOTTOM) | ((region == THIGH) & (outfit.legs >= 1)) | ((region == SHIN) & (outfit.legs == 2))
    colours[clothed_top] = _paint(outfit.top, rest, clothed_top)
    colours[clothed_bottom] = _paint(outfit.bottom, rest, clothed_bottom)
    if outfit.shoes is not None:
        colours[region == SHOE] = outfit.shoes
    if outfit.hair is not None:
        colours[(region == HAIR) | (region == CROWN)] = outfit.hair
    if outfit.hat is not None:
        colours[region == CROWN] = outfit.hat
    strength, waves = outfit.folds
    cloth = clothed_top | clothed_bottom
    creases = np.sin(rest[cloth] @ waves[:, :3].T + waves[:, 3]).mean(1)  # smooth, in about [-1, 1]
    colours[cloth] *= (1.0 - strength * np.abs(creases)[:, None] * 2.0).clip(0.3, 1.0)
    return np.clip(colours, 0.0, 1.0)


def _paint(g: Garment, rest: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """(N, 3) the garment's colours at the N rest vertices where ``covered`` (V,) bool. The
    two-tone band's height is a quantile of the whole body, so it sits at the same place
    whatever the garment covers."""
    heights = rest[:, 1]
    rest = rest[covered]
    u = rest @ g.direction * g.frequency + g.phase
    if g.pattern == "stripes":
        second = np.sin(u) > 0.3
    elif g.pattern == "checks":
        across = np.cross(g.direction, [0.0, 0.0, 1.0])
        across = across / max(np.linalg.norm(across), 1e-6)
        second = (np.sin(u) > 0) ^ (np.sin(rest @ across * g.frequency) > 0)
    elif g.pattern == "print":  # blotches: a few random waves, thresholded
        rng = np.random.default_rng(int(g.phase * 1e6))
        waves = rng.normal(size=(5, 3)) * g.frequency
        second = np.sin(rest @ waves.T + rng.uniform(0, 6.3, 5)).sum(1) > 1.0
    elif g.pattern == "two-tone":  # a yoke or a band: the part above a height
        second = rest[:, 1] < np.quantile(heights, 0.2 + 0.1 * np.sin(g.phase))
    else:
        second = np.zeros(len(rest), bool)
    return np.where(second[:, None], g.colours[1], g.colours[0])
