"""Few-shot musical source separation (Wang et al., ICASSP 2022): extract an instrument from a
mixture given a few audio examples of it (``separate fewshot``), train the model
(``separate fewshot-train``), and the data episodes both use.

Modules: :mod:`~separate.fewshot.examples` (``FILE@START-END`` specs), :mod:`~separate.fewshot.api`
(conditioning + the shared engine), :mod:`~separate.fewshot.data` (episodes from a multitrack
corpus), :mod:`~separate.fewshot.loss`, :mod:`~separate.fewshot.train`. The networks live in
:mod:`separate.nets.fewshot`.
"""

from separate.fewshot.api import condition_model, fewshot_array, fewshot_file, load_fewshot_model
from separate.fewshot.examples import ExampleSpec, load_example, parse_example

__all__ = [
    "ExampleSpec",
    "condition_model",
    "fewshot_array",
    "fewshot_file",
    "load_example",
    "load_fewshot_model",
    "parse_example",
]
