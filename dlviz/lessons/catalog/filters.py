"""What convolution filters and feature maps learn, on the digits."""

from dlviz.lessons import checks as c
from dlviz.lessons.lesson import Lesson, Step
from dlviz.presets import preset_spec
from dlviz.train.config import TrainConfig
from dlviz.data import DatasetParams
from dlviz.workspace import Workspace


def _setup() -> Workspace:
    spec = preset_spec("lenet", (1, 28, 28), 10)
    return Workspace("digits", spec, TrainConfig.from_dict(
        {"optimizer": "adam", "lr": 0.002, "batch_size": 64, "epochs": 3}),
        DatasetParams(n_samples=4000), "lenet")


LESSON = Lesson(
    key="filters",
    title="What convolution filters learn",
    summary="LeNet on digits: what training does to the first layer's filters, and where each "
            "feature map fires.",
    order=70,
    setup=_setup,
    steps=(
        Step("A convolution slides small filters over the image; each filter's output, a feature "
             "map, is bright where the image looks like the filter.",
             "Press **Start** on the Train page and wait for the run to end.", "train",
             c.on_latest("LeNet reads the digits", "digits", c.conv_layers(1), c.ended(),
                         c.accuracy_at_least(0.85)),
             done="the convolution layers learned to read digits"),
        Step("Each of the first layer's feature maps is bright where its filter matches the digit: "
             "see which strokes, edges or background each one picks out.",
             "Open the **Inside** page, pick a test digit and look at the first conv layer's feature maps.",
             "inside"),
        Step("At step 0 the filters are the random ones training started from: compare their maps "
             "with the trained ones.",
             "Move the **timeline** to **step 0**.", "inside", c.timeline_at(0),
             done="you are looking at the untrained filters"),
        Step("Back to the trained network: training made the filters.",
             "Press **Back to the end** under the timeline.", "inside", c.timeline_at(None),
             done="the trained filters are back"),
    ),
)
