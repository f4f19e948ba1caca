"""Plain-language advice reacts to the situations it names, and only to them."""

from dlviz.train.advice import diagnose
from dlviz.train.state import TrainerState


def state(health=(), status="running", evals=(), step=1000, message=""):
    return TrainerState(status=status, step=step, total_steps=2000, epoch=1.0, epochs=2,
                        device="cpu", samples_per_s=1.0, elapsed_s=1.0, loop_s=1.0, eta_s=None,
                        message=message, health=list(health), evals=list(evals))


def layers(**kw):
    return {"step": 500, "layers": kw}


def healthy(g=0.1, u=1e-3):
    return {"weight_norm": 1.0, "grad_norm": g, "update_ratio": u}


def titles(advice):
    return [a.title for a in advice]


def test_a_healthy_run_gets_no_warnings():
    rows = [layers(dense1=healthy(), dense2=healthy(), dense3=healthy(), output=healthy(),
                   dense1_relu={"dead": 0.1})] * 5
    assert diagnose(state(rows, evals=[{"train_accuracy": 0.9, "test_accuracy": 0.88}])) == []


def test_vanishing_gradients():
    rows = [layers(dense1=healthy(g=1e-7), dense2=healthy(g=1e-4), dense3=healthy(g=1e-2),
                   output=healthy())] * 5
    assert "Gradients vanish" in titles(diagnose(state(rows)))


def test_exploding_dead_saturated_overfit_diverged():
    rows = [layers(dense1=healthy(u=0.5), output=healthy(),
                   dense1_relu={"dead": 0.7}, dense2_tanh={"saturated": 0.9})] * 5
    t = titles(diagnose(state(rows, evals=[{"train_accuracy": 1.0, "test_accuracy": 0.7}])))
    assert {"Gradients explode", "Dead units in dense1_relu", "Saturated units in dense2_tanh",
            "Overfitting"} <= set(t)
    d = diagnose(state(status="diverged", message="loss became nan at step 3"))
    assert d[0].level == "error" and "nan" in d[0].text
