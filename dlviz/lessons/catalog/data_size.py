"""How much data a network needs: test accuracy against the training-set size."""

from dlviz.lessons import checks as c
from dlviz.lessons.lesson import Lesson, Step
from dlviz.lessons.setups import dense, workspace

NET = dict(optimizer="adam", lr=0.01, batch_size=10, epochs=100)

LESSON = Lesson(
    key="data-size",
    title="How much data a network needs",
    summary="One network, trained on 50, 200 and 800 spiral points: accuracy against data.",
    order=60,
    setup=lambda: workspace("spiral", dense(16, "relu", 3), "3 layers of 16",
                            params={"n_samples": 50}, **NET),
    steps=(
        Step("With 40 training points the spiral is only sketched: the network has to guess "
             "what happens between them.",
             "Press **Start** on the Train page.", "train",
             c.sizes_trained("spiral", 1), done="the first size is measured"),
        Step("More points pin the spiral down.",
             "On the Build page set the number of samples to **200**, then press **Start** "
             "(keep the network as it is).", "build",
             c.sizes_trained("spiral", 2), done="two sizes measured"),
        Step("And once more, four times as many.",
             "Set the number of samples to **800** and press **Start**.", "build",
             c.sizes_trained("spiral", 3, margin=0.05),
             done="more data, better accuracy: the chart below is your learning curve"),
        Step("The chart is your learning curve: accuracy rises fast, then ever more slowly. "
             "Collecting data is often the best way to improve a model.",
             "Read the chart of test accuracy against training points.", "lesson chart"),
    ),
)
