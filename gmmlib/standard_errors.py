"""Standard errors of a fitted mixture's parameters, by the observed information or the bootstrap.

Chapter "EM That Finishes, and How Sure It Is" compares the two routes with the
posterior spread of the Gibbs sampler of chapter "EM and Gibbs sampling".
"""

from .bootstrap import bootstrap_standard_errors
from .information import louis_standard_errors

METHODS = ("louis", "bootstrap")


def standard_errors(
    model, X, method="louis", *, sample_weight=None, **bootstrap_options
):
    r"""Standard errors of ``weights_``, ``means_`` and ``covariances_``.

    'louis': the square roots of the diagonal of :math:`I_o^{-1}`, the inverse of
    the observed information by Louis' method
    (:func:`gmmlib.information.louis_standard_errors`; the standard error of the
    last weight by the delta method). 'bootstrap': the standard deviations over
    refits to resampled data, nonparametric or parametric
    (:func:`gmmlib.bootstrap.bootstrap_standard_errors`, as mclust's
    ``MclustBootstrap``).

    Parameters
    ----------
    model : fitted GaussianMixture
    X : array-like of shape (n_samples, n_features)
        The data the model was fitted to.
    method : {'louis', 'bootstrap'}, default='louis'
    sample_weight : array-like of shape (n_samples,), default=None
        Frequency weights (Louis' method; the bootstrap refuses them).
    **bootstrap_options
        ``n_bootstrap``, ``kind``, ``random_state``, ``progress`` and
        ``max_failed_fraction`` of :func:`gmmlib.bootstrap.bootstrap_standard_errors`;
        only with ``method='bootstrap'``.

    Returns
    -------
    dict
        ``'weights'`` of shape (n_components,), ``'means'`` of shape
        (n_components, n_features) and ``'covariances'`` shaped like the model's
        ``covariances_``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    if method == "louis":
        if bootstrap_options:
            raise TypeError(
                f"Options {sorted(bootstrap_options)} apply to method='bootstrap' only."
            )
        return louis_standard_errors(model, X, sample_weight=sample_weight)
    return bootstrap_standard_errors(
        model, X, sample_weight=sample_weight, **bootstrap_options
    ).standard_errors
