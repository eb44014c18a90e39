"""scikit-learn's own estimator checks, run on every gmmlib estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from gmmlib import BayesianGaussianMixture, GaussianMixture, LloydKMeans

ESTIMATORS = [
    GaussianMixture(),
    GaussianMixture(n_components=2, covariance_type="diag", random_state=0),
    GaussianMixture(
        n_components=2, covariance_type="tied", init_params="k-means++", random_state=0
    ),
    GaussianMixture(
        n_components=2, covariance_type="spherical", m_step="gradient", random_state=0
    ),
    GaussianMixture(n_components=2, missing_values="marginalize", random_state=0),
    BayesianGaussianMixture(),
    BayesianGaussianMixture(
        n_components=2,
        covariance_type="diag",
        weight_concentration_prior_type="dirichlet_distribution",
        random_state=0,
    ),
    BayesianGaussianMixture(n_components=2, covariance_type="tied", random_state=0),
    BayesianGaussianMixture(
        n_components=2,
        covariance_type="spherical",
        init_params="k-means++",
        random_state=0,
    ),
    BayesianGaussianMixture(
        n_components=2, missing_values="marginalize", random_state=0
    ),
    LloydKMeans(n_clusters=3, random_state=0),
]

# scikit-learn's mixtures have no sample_weight, so they never meet this check.
# gmmlib's weighted fits are equivalent to repeating samples from the same
# starting parameters or responsibilities (tests/library/test_sample_weight.py),
# but the k-means and k-means++ starts, like sklearn.cluster.KMeans (which
# scikit-learn marks as failing this check too), draw their random centres
# differently for repeated rows than for weighted ones.
SAMPLE_WEIGHT_START = {
    "check_sample_weight_equivalence_on_dense_data": "the k-means initialisation draws differ for weighted and repeated rows, "
    "as in sklearn.cluster.KMeans; equivalence from one start is tested in "
    "test_sample_weight.py",
}


def expected_failed_checks(estimator):
    return SAMPLE_WEIGHT_START


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
