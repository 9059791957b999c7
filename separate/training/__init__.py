"""Training: datasets and augmentation, losses, the loop (DDP via torchrun), export to a card."""

from separate.training.export import export_model
from separate.training.loop import TrainConfig, build_model, train

__all__ = ["TrainConfig", "build_model", "export_model", "train"]
