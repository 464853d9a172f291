"""Case-study protocols: which structures, which runs, in which order.  Each builds on
:mod:`petmad.simulate`; the numbers and figures are computed by ``analysis``."""
