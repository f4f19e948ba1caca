"""Hand-made features versus learned ones, on the spiral."""

from dlviz.lessons import checks as c
from dlviz.lessons.lesson import Lesson, Step
from dlviz.lessons.setups import dense, workspace

ENGINEERED = ("x1", "x2", "x1^2", "x2^2", "sin(x1)", "sin(x2)")

LESSON = Lesson(
    key="features",
    title="Hand-made features or learned ones",
    summary="The spiral with x1², sin x as inputs, then with x1 and x2 and a deeper net: "
            "features discovered instead of engineered.",
    order=20,
    setup=lambda: workspace("spiral", dense(8, "tanh"), "one layer, hand-made inputs",
                            features=ENGINEERED, optimizer="adam", lr=0.03, batch_size=10, epochs=100),
    steps=(
        Step("The inputs include x1², x2², sin x1 and sin x2: features a person chose. With them one "
             "small hidden layer can follow the spiral.",
             "Press **Start** on the Train page.", "train",
             c.on_latest("the spiral learned from hand-made features", "spiral", c.engineered_features(),
                         c.accuracy_at_least(0.9)),
             done="the engineered features did the hard part"),
        Step("Take the hand-made features away: with only x1 and x2 the same small network has to "
             "find the curves itself, and one layer of 8 cannot.",
             "On the Build page keep only the inputs **x1** and **x2**, then press **Start**.", "build",
             c.on_latest("one small layer fails on raw inputs", "spiral", c.raw_features(),
                         c.hidden(at_most=1), c.accuracy_below(0.85)),
             done="without engineered features one small layer is not enough"),
        Step("A deeper network makes its own features: each layer builds curves out of the lines "
             "of the layer before.",
             "Make three hidden **dense** layers of 16 **relu** units, learning rate 0.01, inputs x1 "
             "and x2 only, and press **Start**.", "build",
             c.on_latest("a deep net learns the spiral from x1 and x2", "spiral", c.raw_features(),
                         c.hidden(at_least=3), c.accuracy_at_least(0.9)),
             done="the network discovered its features instead of being given them"),
        Step("On the Inside page, the units of the later layers respond to bands and curves: the "
             "features you took away, found by training.",
             "Open the **Inside** page and look at the units of each layer.", "inside"),
    ),
)
