"""Overfitting and regularisation: few noisy samples, a big network, then L2 or dropout."""

from dlviz.lessons import checks as c
from dlviz.lessons.lesson import Lesson, Step
from dlviz.lessons.setups import dense, workspace

LESSON = Lesson(
    key="overfitting",
    title="Overfitting and regularisation",
    summary="A big network memorises 50 noisy points; L2 weight decay or dropout closes the gap.",
    order=50,
    setup=lambda: workspace("circle", dense(64, "relu", 3), "3 layers of 64",
                            params={"n_samples": 100, "noise": 0.8, "test_fraction": 0.5},
                            optimizer="adam", lr=0.01, batch_size=10, epochs=300),
    steps=(
        Step("Only 50 training points, many with the wrong label, and a network with thousands of "
             "weights: it can learn every point by heart, noise included.",
             "Press **Start** and compare train and test accuracy when it ends.", "train",
             c.on_latest("training accuracy beats test accuracy by 15 points", "circle",
                         c.overfits(0.15)),
             done="the network memorised the noise: a boundary full of islands"),
        Step("L2 weight decay pulls every weight towards zero, so only patterns many points agree "
             "on survive; dropout switches units off at random so none can memorise alone.",
             "In **Training settings** set **L2 weight decay** to 0.01 (or add dropout layers on the "
             "Build page), then press **Start**.", "train",
             c.gap_narrowed("circle", by=0.08, otherwise_at_most=0.12),
             done="regularisation made the network generalise"),
        Step("Side by side: the regularised boundary is smooth, the other one wraps single points.",
             "Open the **Compare** page and pick the two runs.", "compare"),
    ),
)
