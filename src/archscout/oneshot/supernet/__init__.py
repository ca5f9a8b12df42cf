"""Weight-sharing supernets for the conv spaces: an elastic space, the supernet its sub-networks share."""
from .elastic import ElasticSpec, elastic_spec
from .net import SuperNet, recalibrate

__all__ = ["ElasticSpec", "SuperNet", "elastic_spec", "recalibrate"]
