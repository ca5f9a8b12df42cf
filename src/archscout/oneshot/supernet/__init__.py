"""Weight-sharing supernets for the conv spaces: the elastic spaces (:mod:`.spaces`, :mod:`.elastic`), the supernet
their sub-networks share (:mod:`.net`), its training (:mod:`.train`, :mod:`.run`), its checkpoint file (:mod:`.store`),
its ranking check (:mod:`.check`) and the ``supernet:FILE`` evaluator (:mod:`.evaluator`). Importing it registers
the elastic spaces and the evaluator; the torch parts (:mod:`.net`, :mod:`.train`) load when first used, so that
naming a space or the command line never loads torch."""
from .elastic import ElasticSpec, elastic_spec
from .evaluator import SupernetEvaluator
from .spaces import ELASTIC_BASES

__all__ = ["ELASTIC_BASES", "ElasticSpec", "SupernetEvaluator", "elastic_spec"]
