"""tf_keras image and tabular classifiers: small CNN, ResNet-18, VGG-16-BN, MobileNetV2, MLP.

All are functional models ending in a softmax, built from stock layers so that tfmot can
prune, cluster and quantize them and the TFLite converter can export them.
"""
from __future__ import annotations

from compleak_tf.tfcompat import keras


def _inputs_at_least(shape: tuple[int, ...], min_side: int):
    """Input layer, resized up when the image is smaller than the network's downsampling."""
    layers = keras().layers
    inputs = layers.Input(shape=shape, name="inputs")
    x = inputs
    if len(shape) == 3 and min(shape[0], shape[1]) < min_side:
        x = layers.Resizing(min_side, min_side, name="upsample")(x)
    return inputs, x


def build_cnn(input_shape, num_classes, filters: int = 32, dense: int = 128):
    """Two conv blocks and a dense layer; overfits small member sets, as the study needs."""
    layers = keras().layers
    inputs, x = _inputs_at_least(tuple(input_shape), 8)
    x = layers.Conv2D(filters, 3, padding="same", activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(2 * filters, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense, activation="relu", name="dense1")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras().Model(inputs, outputs, name="cnn")


def _basic_block(x, filters: int, stride: int, name: str):
    layers = keras().layers
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                      name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.ReLU(name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False,
                                 name=f"{name}_proj")(shortcut)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


def build_resnet18(input_shape, num_classes, width: int = 64):
    """ResNet-18 with the CIFAR stem (3x3 conv, no max-pool); `width` scales every stage."""
    layers = keras().layers
    inputs, x = _inputs_at_least(tuple(input_shape), 8)
    x = layers.Conv2D(width, 3, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for stage, multiple in enumerate((1, 2, 4, 8)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(x, width * multiple, stride, f"s{stage + 1}b{block + 1}")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras().Model(inputs, outputs, name="resnet18")


_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M")


def build_vgg16(input_shape, num_classes, width: float = 1.0):
    """VGG-16 with batch norm after every conv, for 32x32 inputs (smaller ones are resized)."""
    layers = keras().layers
    inputs, x = _inputs_at_least(tuple(input_shape), 32)
    conv = 0
    for item in _VGG16:
        if item == "M":
            x = layers.MaxPooling2D(2, name=f"pool{conv}")(x)
            continue
        conv += 1
        x = layers.Conv2D(max(1, int(item * width)), 3, padding="same", use_bias=False,
                          name=f"conv{conv}")(x)
        x = layers.BatchNormalization(name=f"bn{conv}")(x)
        x = layers.ReLU(name=f"relu{conv}")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras().Model(inputs, outputs, name="vgg16")


def build_mobilenetv2(input_shape, num_classes, alpha: float = 1.0):
    """tf_keras.applications.MobileNetV2 with random weights (no download)."""
    layers = keras().layers
    inputs, x = _inputs_at_least(tuple(input_shape), 32)
    # Built on the input tensor rather than nested as a sub-model: tfmot cannot wrap the
    # layers of a nested model.
    base = keras().applications.MobileNetV2(
        input_tensor=x, alpha=alpha, include_top=False, weights=None, pooling="avg")
    x = base.output
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras().Model(inputs, outputs, name="mobilenetv2")


def build_mlp(input_shape, num_classes, hidden: tuple[int, ...] = (256, 128)):
    """A multilayer perceptron for tabular rows (images are flattened)."""
    layers = keras().layers
    inputs = layers.Input(shape=tuple(input_shape), name="inputs")
    x = layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
    for i, units in enumerate(hidden):
        x = layers.Dense(units, activation="relu", name=f"dense{i + 1}")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras().Model(inputs, outputs, name="mlp")
