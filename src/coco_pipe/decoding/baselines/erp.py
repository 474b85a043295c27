"""ERP baseline: :class:`XdawnTangentSpaceLR`, xDAWN covariances in the tangent space."""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from .checks import check_data_info, check_positive
from .epochs_pipeline import EpochsClassifier
from .filters import bandpass_steps
from .riemann import tangent_space_lr_steps

__all__ = ["XdawnTangentSpaceLR"]


class XdawnTangentSpaceLR(EpochsClassifier):
    """xDAWN covariances + tangent space + logistic regression, for event-related potentials.

    ``[BandPassFilter] -> pyriemann XdawnCovariances -> TangentSpace -> LogisticRegression``
    (Barachant & Congedo, 2014, *A plug&play P300 BCI using information geometry*,
    arXiv:1409.0107; MOABB's ``XdawnCovariances + TangentSpace`` pipelines,
    ``pipelines/XdawnCov_TS_SVM.yml``, with a logistic regression in place of the SVM).
    xDAWN (Rivet et al., 2009) learns ``nfilter`` spatial filters per class that
    maximise the evoked response over the noise, and the class-average responses
    (prototypes) of the training windows. Each window is then stacked under the
    filtered prototypes and summarised by the covariance of that stack: its
    cross-covariance with each prototype carries the evoked waveform (phase-locked
    activity), which a plain covariance would lose.

    Parameters
    ----------
    nfilter : int
        xDAWN filters per class.
    cov_estimator : str
        pyriemann estimator of the final covariances (MOABB: ``"oas"``).
    xdawn_estimator : str
        pyriemann estimator of the signal covariance inside xDAWN (MOABB: ``"scm"``;
        ``"lwf"`` or ``"oas"`` for few windows or rank-deficient data).
    metric : str
        Metric of the tangent-space reference point.
    C : float
        Inverse L2 regularisation strength of the logistic regression.
    max_iter : int
        Iterations of the logistic regression solver.
    l_freq, h_freq : float or None
        Band-pass edges in Hz applied to each window first; ``None`` (default) leaves the
        windows as given. MOABB's P300 paradigm band-passes the continuous recording
        (1-24 Hz) before epoching, which is better done there for short ERP windows.
    sfreq : float or None
        Sampling frequency in Hz, needed only to filter; ``None``: read from an
        ``mne.Epochs`` input, or set by the experiment from the data.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 30)
    >>> wave = np.hanning(50)[None] * np.array([[1.0], [0.5], [0.2]])  # 3 channels
    >>> X = rng.standard_normal((60, 3, 50)) + 1.5 * y[:, None, None] * wave
    >>> XdawnTangentSpaceLR(nfilter=2).fit(X, y).score(X, y) > 0.9
    True
    """

    def __init__(
        self,
        nfilter: int = 4,
        cov_estimator: str = "oas",
        xdawn_estimator: str = "scm",
        metric: str = "riemann",
        C: float = 1.0,
        max_iter: int = 1000,
        l_freq: float | None = None,
        h_freq: float | None = None,
        sfreq: float | None = None,
    ):
        self.nfilter = nfilter
        self.cov_estimator = cov_estimator
        self.xdawn_estimator = xdawn_estimator
        self.metric = metric
        self.C = C
        self.max_iter = max_iter
        self.l_freq = l_freq
        self.h_freq = h_freq
        self.sfreq = sfreq

    def _make_pipeline(self, sfreq: float | None) -> Pipeline:
        from pyriemann.estimation import XdawnCovariances

        check_positive(self.nfilter, type(self).__name__, "nfilter", integer=True)
        tail = tangent_space_lr_steps(self)
        xdawn = XdawnCovariances(
            nfilter=int(self.nfilter),
            estimator=self.cov_estimator,
            xdawn_estimator=self.xdawn_estimator,
        )
        return Pipeline([*bandpass_steps(self, sfreq), ("xdawn_cov", xdawn), *tail])

    def check_data_info(self, info) -> None:
        """Raise before fitting when the data cannot be used (2-D, band above Nyquist)."""
        check_data_info(self, info, [(self.l_freq, self.h_freq)])
