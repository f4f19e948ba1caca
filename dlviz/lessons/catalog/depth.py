"""Depth and vanishing gradients: eight sigmoid layers against eight relu ones."""

from dlviz.lessons import checks as c
from dlviz.lessons.lesson import Lesson, Step
from dlviz.lessons.setups import dense, workspace

LESSON = Lesson(
    key="depth",
    title="Depth and vanishing gradients",
    summary="A deep sigmoid network hardly learns: layer health shows why, and relu fixes it.",
    order=30,
    setup=lambda: workspace("circle", dense(8, "sigmoid", 8), "8 sigmoid layers", optimizer="sgd",
                            lr=0.1, batch_size=32, epochs=30),
    steps=(
        Step("Eight sigmoid layers: on the way back each one multiplies the gradient by at most "
             "1/4, so the first layers get almost nothing and barely learn.",
             "Press **Start**, then open **Layer health** and read the gradient norms per layer.",
             "layer health",
             c.on_latest("the first layer's gradient vanishes", "circle", c.hidden(at_least=5),
                         c.activations_in(c.SQUASHING, "sigmoid or tanh"), c.ended(),
                         c.gradients_vanish(0.01)),
             done="the gradient vanished before reaching the first layers"),
        Step("relu passes the gradient through unchanged wherever a unit is active, so even the "
             "first layer learns.",
             "On the Build page set every layer's activation to **relu**, press **Start**, and read "
             "**Layer health** again.", "build",
             c.on_latest("gradients reach the first layer and the net learns", "circle",
                         c.hidden(at_least=5), c.activations_in(c.RELU_FAMILY, "relu-family"),
                         c.gradients_flow(0.1), c.accuracy_at_least(0.9)),
             done="with relu the gradient reaches every layer"),
        Step("Side by side: the sigmoid run's loss stays flat while the relu run's falls.",
             "Open the **Compare** page and pick the two runs.", "compare"),
    ),
)
