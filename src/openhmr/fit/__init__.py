"""Fitting a body to 2D evidence (SMPLify-style optimisation and EFT), starting from the
network: ``Refiner(hmr, "fit" | "eft", Priors.for_checkpoint(...))(crops, targets)``."""

from openhmr.fit.fitter import FitResult, fit
from openhmr.fit.objective import BodyParams, FitSettings, Objective
from openhmr.fit.pose_prior import PosePrior, fit_pose_prior
from openhmr.fit.refine import MODES, Priors, Refiner
from openhmr.fit.targets import FullImageCamera, Targets

__all__ = ["BodyParams", "FitResult", "FitSettings", "FullImageCamera", "MODES", "Objective", "PosePrior", "Priors",
           "Refiner", "Targets", "fit", "fit_pose_prior"]
