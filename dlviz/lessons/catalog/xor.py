"""Why hidden layers: XOR cannot be split by one straight line."""

from dlviz.lessons import checks as c
from dlviz.lessons.lesson import Lesson, Step
from dlviz.lessons.setups import workspace

LESSON = Lesson(
    key="xor",
    title="Why hidden layers",
    summary="A network with no hidden layer draws one straight line; XOR needs a bend.",
    order=10,
    setup=lambda: workspace("xor", [], "no hidden layer", optimizer="adam", lr=0.03,
                            batch_size=10, epochs=30),
    steps=(
        Step("This network has no hidden layer: its output is a weighted sum of x1 and x2, so it "
             "can only split the plane with one straight line. XOR puts opposite corners in the same class.",
             "Press **Start** on the Train page and watch the decision boundary.", "train",
             c.on_latest("a network without hidden layers fails on XOR", "xor", c.hidden(at_most=0),
                         c.accuracy_below(0.8)),
             done="one straight line cannot separate XOR"),
        Step("A hidden layer bends the boundary: each hidden unit draws its own line, and the "
             "output combines them.",
             "On the Build page add a **dense** layer of 4 **tanh** units, then press **Start**.", "build",
             c.on_latest("the test accuracy passes 95%", "xor", c.hidden(at_least=1),
                         c.accuracy_at_least(0.95)),
             done="you gave the network the hidden layer it needed"),
        Step("In the network view each hidden unit's tile shows its line across the plane; the "
             "output adds them up into the XOR pattern.",
             "Look at the tiles in **What the model sees** on the Train page.", "train"),
    ),
)
