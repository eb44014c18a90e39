r"""Anomaly detection with a fitted density: flag the points in low-density regions.

Chapter "Anomaly detection" (``chapters/10_anomaly_detection.md``). A fitted
mixture gives every point its log-density
:math:`\log p(x) = \log \sum_k w_k \mathcal{N}(x \mid \mu_k, \Sigma_k)`
(``score_samples``). A point is flagged as anomalous when its log-density is
below a threshold :math:`\tau`; choosing :math:`\tau` as the ``percentile``-th
percentile of the log-densities of reference data flags that percentage of the
reference data. The region :math:`\{x : \log p(x) \ge \tau\}` is the
highest-density region that holds the rest.

The functions accept any fitted estimator with ``score_samples``
(:class:`gmmlib.GaussianMixture`, :class:`sklearn.mixture.GaussianMixture`, ...).
"""

import numpy as np


def density_threshold(model, X, percentile):
    r"""Log-density below which ``percentile`` percent of X lie.

    .. math:: \tau = \text{the } q\text{-th percentile of } \{\log p(x_n)\}_{n=1}^N,

    computed by :func:`numpy.percentile` (linear interpolation between order
    statistics), so a fraction :math:`q / 100` of X (up to one sample) has
    :math:`\log p(x_n) < \tau`.

    Parameters
    ----------
    model : fitted estimator with ``score_samples``
    X : array-like of shape (n_samples, n_features)
        Reference data, usually the training data.
    percentile : float in [0, 100]
        Percentage of X to be flagged.

    Returns
    -------
    threshold : float
        :math:`\tau`, in the units of ``score_samples`` (log-density).
    """
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")
    return float(np.percentile(model.score_samples(X), percentile))


def flag_anomalies(model, X, threshold):
    r"""Which samples have a log-density below ``threshold``.

    Parameters
    ----------
    model : fitted estimator with ``score_samples``
    X : array-like of shape (n_samples, n_features)
    threshold : float
        :math:`\tau`, for instance from :func:`density_threshold`.

    Returns
    -------
    is_anomaly : ndarray of shape (n_samples,), dtype bool
        True where :math:`\log p(x_n) < \tau`.
    """
    return model.score_samples(X) < threshold
