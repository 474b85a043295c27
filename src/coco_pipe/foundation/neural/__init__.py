"""NeuralDecoder: train a backbone (frozen, full, LoRA, QLoRA) or a scratch network per fold.

Modules, one responsibility each:

- :mod:`.estimator`: :class:`NeuralDecoder` (parameters, ``fit``, ``predict``);
- :mod:`.assembly`: the network from a config (backbone source, LoRA / 4-bit surgery,
  head) and the cheap "can it be built for this data" check;
- :mod:`.inference`: batched forward passes and the frozen backbone's embeddings;
- :mod:`.persistence`: ``save`` / ``load`` folders and pickling through one bundle;
- :mod:`.reports`: history, model card, checkpoint manifest, ``tracking_report``.

Examples
--------
>>> from coco_pipe.foundation.neural import NeuralDecoder
>>> NeuralDecoder("eegnet").get_params()["optim__epochs"]
20
"""

from .assembly import NeuralNetwork, head_pooling
from .estimator import NeuralDecoder
from .persistence import MODEL_FILE
from .reports import NeuralTrainable

__all__ = ["NeuralDecoder", "NeuralNetwork", "NeuralTrainable", "MODEL_FILE", "head_pooling"]
