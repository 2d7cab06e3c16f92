"""Reference implementations the zoo is proven against (test-only dependencies).

Each entry: spec file -> (constructor of the reference model, input resolution); a spec
with a `resolution` parameter is built at that resolution. Constructors build randomly
initialised models: nothing is downloaded."""

from __future__ import annotations

import torch


def _tv(name, **kw):
    def make():
        import torchvision

        return getattr(torchvision.models, name)(weights=None, **kw)

    return make


def _timm(name):
    def make():
        import timm

        return timm.create_model(name, pretrained=False)

    return make


def _facenet():
    from facenet_pytorch import InceptionResnetV1

    return InceptionResnetV1(classify=False)


def _bninception():
    import pretrainedmodels

    return pretrainedmodels.bninception(pretrained=None)


REFERENCES = {
    "alexnet.net": (_tv("alexnet"), 224),
    "vgg16.net": (_tv("vgg16"), 224),
    "vgg19.net": (_tv("vgg19"), 224),
    "googlenet.net": (_tv("googlenet", aux_logits=True, init_weights=False), 224),
    "inception_v3.net": (_tv("inception_v3", aux_logits=True, init_weights=False), 299),
    "inception_v4.net": (_timm("inception_v4"), 299),
    "inception_resnet_v2.net": (_timm("inception_resnet_v2"), 299),
    "inception_resnet_v1.net": (_facenet, 160),
    "bn_inception.net": (_bninception, 224),
    "resnet18.net": (_tv("resnet18"), 224),
    "resnet34.net": (_tv("resnet34"), 224),
    "resnet50.net": (_tv("resnet50"), 224),
    "resnet101.net": (_tv("resnet101"), 224),
    "resnet152.net": (_tv("resnet152"), 224),
    "xception.net": (_timm("legacy_xception"), 299),
    "mobilenet_v1.net": (_timm("mobilenetv1_100"), 224),
    # issue 13 (zoob): global pooling heads, so a small input proves the same weights
    "mobilenet_v3_large.net": (_tv("mobilenet_v3_large"), 64),
    "mobilenet_v3_small.net": (_tv("mobilenet_v3_small"), 64),
    "efficientnet_b0.net": (_tv("efficientnet_b0"), 64),
    # issue 13 (zooa): size-agnostic networks, proven at a small `resolution`
    "resnext50_32x4d.net": (_tv("resnext50_32x4d"), 64),
    "wide_resnet50_2.net": (_tv("wide_resnet50_2"), 64),
}


def randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Seeded random weights everywhere, batch-norm statistics included, so that a
    tensor ported to the wrong place changes the output."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in sorted(model.state_dict(keep_vars=True).items()):
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif name.endswith("running_mean") or name.endswith(".bias"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
            elif t.dim() == 1:  # batch-norm scale
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
    return model
