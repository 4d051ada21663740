"""Small builders shared by the tests."""

from backsurface.codec.label_codec import LabelCodec

PAPER_SCHEME = {"crop": "none", "threshold_mm": 1700.0, "background": "fixed",
                "body_depth_mm": 300.0, "stride": 8, "sigma_px": 8.0, "cutoff": 4.6,
                "limb_width_px": 8.0, "decoding": "logparabola"}


def codec(input_size: int = 96, **kw) -> LabelCodec:
    """The paper's label scheme (σ 8, cut-off 4.6, limb width 8, stride 8, r > 1.7 m, log-parabola decoding) at
    ``input_size``."""
    return LabelCodec(input_size=input_size, **(PAPER_SCHEME | kw))


def untrained_model(backbone: str, input_size: int, seed: int = 0, **kw):
    """``model.build_model(backbone, input_size, **kw)`` from a fixed Keras seed: the same untrained network on every
    run and machine, whatever ran before (Keras's global seed state otherwise leaks from test to test)."""
    import keras

    from backsurface.net import model

    keras.utils.set_random_seed(seed)
    return model.build_model(backbone, input_size, **kw)
