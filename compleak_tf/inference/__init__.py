"""Running exported .tflite models through the LiteRT interpreter, and caching their outputs."""
from compleak_tf.inference.litert import TFLiteModel

__all__ = ["TFLiteModel"]
