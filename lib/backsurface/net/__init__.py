"""The network layer (TensorFlow / Keras): model, loss, tf.data, training, inference, export.

Importing it starts TensorFlow once with its C++ start-up noise filtered (:mod:`.tf_runtime`).
"""

from backsurface.net.tf_runtime import start_tensorflow

start_tensorflow()
