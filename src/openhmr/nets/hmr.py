"""HMR: image -> encoder -> IEF regressor -> body model -> projected keypoints, per iteration.

The module only sees the :class:`~openhmr.body.base.BodyModel` interface, so the same code
serves Anny and SMPL.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from openhmr.body import keypoints as kp
from openhmr.body.base import BodyModel
from openhmr.errors import OpenHMRError
from openhmr.geometry.camera import weak_perspective_project
from openhmr.geometry.crop import STORED_MARGIN
from openhmr.nets.encoder import DEFAULT_BACKBONE, build_encoder
from openhmr.nets.regressor import IEFRegressor
from openhmr.nets.theta import MeanParams, ThetaLayout


@dataclasses.dataclass
class HMRPrediction:
    """One IEF iteration's prediction for a batch of B crops.

    theta (B, D) raw (unconstrained) regressor output; camera (B, 3) weak perspective [s > 0, tx, ty]; rotmats (B, J, 3, 3) global
    orientation then body joints; shape (B, S). When the body was decoded: vertices (B, V, 3),
    joints3d (B, J, 3), keypoints3d (B, K, 3) in the HMR's keypoint convention (camera frame,
    metres, root at the origin) and keypoints2d (B, K, 2) in crop coordinates [-1, 1].
    """

    theta: torch.Tensor
    camera: torch.Tensor
    rotmats: torch.Tensor
    shape: torch.Tensor
    vertices: torch.Tensor | None = None
    joints3d: torch.Tensor | None = None
    keypoints3d: torch.Tensor | None = None
    keypoints2d: torch.Tensor | None = None

    @property
    def body_rotmats(self) -> torch.Tensor:
        """(B, J-1, 3, 3): the non-root joints, as the discriminator sees them."""
        return self.rotmats[:, 1:]


class HMR(nn.Module):
    """images (B, 3, H, W) RGB in [0, 1] -> list of :class:`HMRPrediction`, one per iteration."""

    def __init__(
        self,
        body: BodyModel,
        encoder: nn.Module,
        regressor: IEFRegressor,
        layout: ThetaLayout,
        keypoint_convention: str = "coco23",
        landmark_reader: nn.Module | None = None,
        crop_margin: float = STORED_MARGIN,
        upright: bool = False,
    ):
        super().__init__()
        self.body = body
        self.encoder = encoder
        self.regressor = regressor
        self.landmark_reader = landmark_reader  # features -> the encoder's landmarks (feedback)
        self.layout = layout
        self.keypoint_convention = keypoint_convention
        self.crop_margin = float(crop_margin)  # the crop's side over the person's box (data.framing)
        self.upright = bool(upright)  # trained on crops turned upright: run on such crops too
        index, mask = kp.mapping(body.keypoint_names, keypoint_convention)
        self.register_buffer("keypoint_index", index, persistent=False)
        self.register_buffer("keypoint_mask", mask, persistent=False)
        # The body model is fixed: it is not trained and not saved with the network's weights.
        for p in body.parameters():
            p.requires_grad_(False)

    def reads_upright(self, asked: bool | None = None) -> bool:
        """Whether crops are turned upright for this network: ``asked``, else as it was trained."""
        return self.upright if asked is None else bool(asked)

    @property
    def keypoint_names(self) -> tuple[str, ...]:
        return kp.convention_names(self.keypoint_convention)

    @property
    def hip_indices(self) -> tuple[int, int]:
        """Positions of left_hip and right_hip in the keypoint convention (for the pelvis)."""
        names = self.keypoint_names
        return names.index("left_hip"), names.index("right_hip")

    def forward(
        self, images: torch.Tensor | None, decode: str = "all", trunk: torch.Tensor | None = None, frozen_blocks: int | None = None,
        vertices: bool = True,
    ) -> list[HMRPrediction]:
        """``decode``: which iterations run the body model, ``"all"``, ``"final"`` or ``"none"``
        (the discriminator needs only θ, so the others can skip the costly mesh);
        ``vertices=False``: the decoded bodies carry joints and keypoints but no mesh (cheaper;
        training without a silhouette loss needs no more). Instead of images, ``trunk`` may hold
        the cached output of the encoder's first ``frozen_blocks`` blocks (see
        :meth:`Encoder.trunk`)."""
        features = self.encoder(images) if trunk is None else self.encoder.head(trunk, frozen_blocks)
        feedback = self.landmark_feedback(features) if self.regressor.feedback_dim else None
        thetas = self.regressor(features, feedback)
        decoded = [decode == "all" or (decode == "final" and i == len(thetas) - 1) for i in range(len(thetas))]
        predictions = [self.decode_theta(t, body=d, vertices=vertices) for t, d in zip(thetas, decoded)]
        return predictions

    def landmark_feedback(self, features: torch.Tensor):
        """(θ (B, D), iteration) -> (B, 3K): for each keypoint of the convention, the encoder's 2D landmark
        minus where the body of θ projects it (crop coordinates), times the landmark's
        visibility, and that visibility (0 where the encoder has no such landmark).

        No gradient flows through the body here (it only shows the regressor its error); the
        body of the mean θ, the same for every crop, is decoded once."""
        landmarks = self.landmark_reader(features)  # (B, K, 3): x, y, visibility

        def feedback(theta: torch.Tensor, iteration: int) -> torch.Tensor:
            with torch.no_grad():
                if iteration == 0:  # θ0 is the mean for every crop: one decode serves the batch
                    projected = self.decode_theta(theta[:1], vertices=False).keypoints2d.expand(len(theta), -1, -1)
                else:
                    projected = self.decode_theta(theta, vertices=False).keypoints2d
            seen = landmarks[..., 2:3]
            return torch.cat([(landmarks[..., :2] - projected) * seen, seen], dim=-1).flatten(1)

        return feedback

    def decode_theta(self, theta: torch.Tensor, body: bool = True, vertices: bool = True) -> HMRPrediction:
        # Rotations, body and camera in fp32 even under autocast (bf16 training on a GPU): the
        # 6D -> matrix step and the kinematic chain lose whole degrees in bf16.
        with torch.autocast(theta.device.type, enabled=False):
            theta = theta.float()
            camera, rots, shape = self.layout.to_params(theta)
            return self.decode_params(camera, self.layout.rotmats(rots), shape, body, theta, vertices)

    def decode_params(
        self, camera: torch.Tensor, rotmats: torch.Tensor, shape: torch.Tensor, body: bool = True, theta: torch.Tensor | None = None,
        vertices: bool = True,
    ) -> HMRPrediction:
        """The prediction of given parameters (camera (B, 3), rotmats (B, J, 3, 3), shape (B, S)),
        e.g. a fit's; ``theta`` is derived from them when not given."""
        if theta is None:
            theta = self.layout.from_params(camera, self.layout.encode(rotmats), shape)
        prediction = HMRPrediction(theta, camera, rotmats, shape)
        if body:
            out = self.body(rotmats[:, 0], rotmats[:, 1:], shape, vertices=vertices)
            keypoints3d = out.keypoints.index_select(1, self.keypoint_index)
            prediction.vertices = out.vertices
            prediction.joints3d = out.joints
            prediction.keypoints3d = keypoints3d
            prediction.keypoints2d = weak_perspective_project(keypoints3d, camera)
        return prediction


def build_hmr(
    body: BodyModel,
    backbone: str = DEFAULT_BACKBONE,
    backbone_weights: str | Path | None = "default",
    rotation: str = "axis_angle",
    iterations: int = 3,
    mean_params: MeanParams | None = None,
    keypoint_convention: str = "coco23",
    bounded: bool = True,
    encoder_spec: dict | None = None,
    encoder_inputs: tuple[str, ...] | None = None,
    feedback: bool = False,
    dropout: float = 0.5,
    crop_margin: float = STORED_MARGIN,
    upright: bool = False,
) -> HMR:
    """An HMR for ``body`` with the named backbone; θ0 from ``mean_params`` (default: rest pose).
    ``bounded``: shape kept inside hard body bounds;
    ``encoder_spec``: a converted encoder's structure (from a checkpoint); ``encoder_inputs``:
    which of a BlazePose encoder's feature groups the regressor sees (default all);
    ``feedback``: each IEF iteration also sees its body's 2D error against the encoder's own
    landmarks (BlazePose encoders; see :meth:`HMR.landmark_feedback`); ``dropout``: in the
    regressor's hidden layers, while training (HMR's 0.5); ``crop_margin``: the crop's side
    over the person's tight box, as trained and run (see :mod:`openhmr.data.framing`);
    ``upright``: trained on crops turned upright, so ``predict`` and ``eval`` turn theirs too."""
    layout = ThetaLayout.for_body(body, rotation, bounded)
    mean_params = mean_params or MeanParams.default(body)
    encoder = build_encoder(backbone, backbone_weights, spec=encoder_spec, inputs=encoder_inputs)
    reader = None
    if feedback:
        from openhmr.nets.blazepose import LandmarkReader

        if not hasattr(encoder, "landmark_offset"):
            raise OpenHMRError(f"Landmark feedback needs an encoder that finds landmarks (BlazePose), not {backbone!r}.")
        reader = LandmarkReader(encoder, keypoint_convention)
    feedback_dim = 3 * len(kp.convention_names(keypoint_convention)) if feedback else 0
    regressor = IEFRegressor(encoder.feature_dim, mean_params.theta(layout), iterations=iterations,
                             dropout=dropout, feedback_dim=feedback_dim)
    return HMR(body, encoder, regressor, layout, keypoint_convention, reader, crop_margin, upright)
