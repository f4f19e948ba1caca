"""Bias in the training data: every training square is red, and the model learns red."""

from dlviz.data.shapes_biased import KEY as BIASED
from dlviz.lessons import checks as c
from dlviz.lessons import model_checks as m
from dlviz.lessons.lesson import Lesson, Step
from dlviz.lessons.setups import CNN_TRAINING, small_cnn, workspace

LESSON = Lesson(
    key="bias",
    title="Bias in the training data",
    summary="Every training square is red: the model learns the colour, fails on a blue square, "
            "and the attributions show why.",
    order=90,
    setup=lambda: workspace(BIASED, small_cnn(), "small CNN", params={"n_samples": 6000},
                            **CNN_TRAINING),
    steps=(
        Step("In this training set every square is red, and nothing else ever is. Red is an easier "
             "clue than four corners.",
             "Press **Start** on the Train page and wait for it to end.", "train",
             c.on_latest("the model does well on its training data", BIASED, c.ended(),
                         c.train_accuracy_at_least(0.8)),
             done="on the training data the model looks excellent"),
        Step("The test set breaks the rule: no square is red, and half the other shapes are. The "
             "confusion matrix's square column fills with red triangles and stars.",
             "Read the **confusion matrix** in **What the model sees**.", "train",
             m.learned_the_colour(BIASED, min_train_accuracy=0.8, fooled_at_least=0.3),
             done="the model learned the colour, not the shape"),
        Step("Explain a red shape the model calls a square: the attribution covers its red pixels "
             "evenly, not the corners a square has.",
             "On the **Explain** page pick a red test shape predicted *square*.", "explain"),
        Step("The fix is in the data: with colours that say nothing about the class, the network "
             "has to learn the shapes.",
             "On the Build page choose the dataset **shapes**, then press **Start**.", "build",
             c.on_latest("the same network learns unbiased shapes", "shapes", c.ended(),
                         c.accuracy_at_least(0.6)),
             done="with unbiased data it learned the shapes themselves"),
    ),
)
