"""A learning rate that is too high: the loss goes up, or blows up."""

from dlviz.lessons import checks as c
from dlviz.lessons.lesson import Lesson, Step
from dlviz.lessons.setups import dense, workspace

LESSON = Lesson(
    key="learning-rate",
    title="A learning rate that is too high",
    summary="Ten times too large a step overshoots the minimum: the loss rises instead of falling.",
    order=40,
    setup=lambda: workspace("circle", dense(8, "relu", 2), "2 relu layers", optimizer="sgd",
                            lr=0.1, batch_size=10, epochs=20),
    steps=(
        Step("Gradient descent takes steps downhill; the learning rate is the step's size. At 0.1 "
             "this network learns the circle.",
             "Press **Start** on the Train page.", "train",
             c.on_latest("the network learns at a modest learning rate", "circle", c.lr_at_most(0.3),
                         c.accuracy_at_least(0.9)),
             done="small steps found the minimum"),
        Step("With steps 30 times larger each update jumps past the valley's floor and lands higher "
             "up the other side.",
             "In **Training settings** set the learning rate to **3**, then press **Start**.", "train",
             c.on_latest("the loss rises or blows up", "circle", c.lr_at_least(1.0), c.blew_up()),
             done="the steps were so large that the loss went up"),
        Step("Side by side, the two loss curves: one falls, the other climbs or stops with a "
             "divergence message.",
             "Open the **Compare** page and pick the two runs.", "compare"),
    ),
)
