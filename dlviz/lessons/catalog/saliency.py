"""Can you trust a saliency map? The model-parameter randomisation check."""

from dlviz.lessons import checks as c
from dlviz.lessons import model_checks as m
from dlviz.lessons.lesson import Lesson, Step
from dlviz.lessons.setups import CNN_TRAINING, small_cnn, workspace

LESSON = Lesson(
    key="saliency",
    title="Can you trust a saliency map?",
    summary="Destroy the model layer by layer: a map that stays the same was never about the model.",
    order=80,
    setup=lambda: workspace("shapes", small_cnn(), "small CNN", params={"n_samples": 6000},
                            **CNN_TRAINING),
    steps=(
        Step("First a model worth explaining: a small CNN that tells eight shapes apart.",
             "Press **Start** on the Train page and wait for it to end.", "train",
             c.on_latest("the CNN recognises the shapes", "shapes", c.ended(), c.accuracy_at_least(0.7)),
             done="the model is trained"),
        Step("Saliency and Guided Backprop both draw the shape's outline: they look equally convincing.",
             "On the **Explain** page, explain a test image with **Saliency** and **Guided Backprop**.",
             "explain"),
        Step("The randomisation check re-initialises the layers one by one from the output. A map "
             "that reflects the model must change; Guided Backprop's hardly does: it shows the image's "
             "edges, not what the model learned.",
             "On the **Explain** page run the **randomisation check** for both methods.", "explain",
             m.randomisation_separates("shapes", trusted="saliency", flagged="guided_backprop",
                                       min_accuracy=0.7),
             done="Guided Backprop barely changed as the model was destroyed: do not trust it alone"),
    ),
)
