"""The small CNN and its training loop, in plain PyTorch (imported by the train stage only).

Two convolution blocks and a small classifier head. The first layer scales the 0..255 pixels and
normalises them with the training split's mean and standard deviation, kept as buffers: they are
inside the exported ONNX graph, so serving feeds raw pixels exactly as `preprocess` makes them.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .params import ImageTrainParams

log = logging.getLogger(__name__)


class SmallCNN(nn.Module):
    """conv-relu-pool twice, then a 64-unit head; input (n, channels, size, size) with values 0..255."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, channels: int, size: int, classes: int, width: int, mean: float, std: float) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(max(std, 1e-6), dtype=torch.float32))
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * width * (size // 4) ** 2, 64),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(64, classes),
        )

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Logits for raw pixels (0..255)."""
        scaled = (pixels / 255.0 - self.mean) / self.std
        return self.head(self.features(scaled))  # type: ignore[no-any-return]


class Probabilities(nn.Module):
    """What is exported and served: the CNN followed by softmax, so the API returns probabilities."""

    def __init__(self, model: SmallCNN) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(pixels), dim=1)


def pick_device(choice: str) -> torch.device:
    """`auto`: CUDA when a GPU is visible, else the CPU; `cuda` without a GPU is an error."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but no CUDA GPU is visible; set it to auto or cpu")
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


@dataclass
class Fitted:
    """The best weights (by validation loss) and the per-epoch history."""

    model: SmallCNN
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    seconds_per_epoch: float = 0.0
    device: str = "cpu"


def fit(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    classes: int,
    settings: ImageTrainParams,
    score: Callable[[np.ndarray, np.ndarray], float],
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> Fitted:
    """Train with Adam, stop after `patience` epochs without a better validation loss, keep the best.

    Seeded end to end (weights, shuffling, dropout): the same data and params give the same losses.
    `score(y_true, y_pred)` is the primary metric, computed on the validation split each epoch.
    """
    torch.manual_seed(settings.seed)
    device = pick_device(settings.device)
    _, channels, size, _ = x_train.shape
    model = SmallCNN(
        channels, size, classes, settings.width, float(x_train.mean() / 255), float(x_train.std() / 255)
    )
    model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    inputs, targets = torch.from_numpy(x_train).to(device), torch.from_numpy(y_train).to(device)
    val_inputs, val_targets = torch.from_numpy(x_val).to(device), torch.from_numpy(y_val).to(device)
    shuffler = torch.Generator().manual_seed(settings.seed)
    best_loss, best_epoch, best_state = float("inf"), 0, copy.deepcopy(model.state_dict())
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        model.train()
        order = torch.randperm(len(inputs), generator=shuffler).to(device)
        total = 0.0
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            optimiser.zero_grad()
            loss = loss_fn(model(inputs[batch]), targets[batch])
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch)
        model.eval()
        with torch.no_grad():
            logits = model(val_inputs)
            val_loss = float(loss_fn(logits, val_targets))
            predicted = logits.argmax(dim=1).cpu().numpy()
        record = {
            "train_loss": total / len(order),
            "val_loss": val_loss,
            "val_score": score(y_val, predicted),
        }
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, record)
        if val_loss < best_loss:
            best_loss, best_epoch, best_state = val_loss, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= settings.patience:
            log.info("early stop at epoch %d: no better validation loss since epoch %d", epoch, best_epoch)
            break
    elapsed = time.perf_counter() - started
    model.load_state_dict(best_state)
    model.to("cpu").eval()
    return Fitted(model, best_epoch, history, elapsed / len(history), device.type)


def predict_proba(model: nn.Module, pixels: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities from the torch model (CPU), in batches."""
    wrapped = Probabilities(model) if isinstance(model, SmallCNN) else model
    wrapped.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(pixels), batch_size):
            outputs.append(wrapped(torch.from_numpy(pixels[start : start + batch_size])).numpy())
    return np.concatenate(outputs)
