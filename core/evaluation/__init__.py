"""The dialogue evaluation kit's core: scenario files (``scenarios``), judging a played scenario
(``judge``) and reporting (``report``). Playing a scenario needs the running pipeline and the
fake outside services, so the runner lives in ``bot/dialogue_eval.py`` (``kefu eval dialogues``);
docs/evaluation.md explains both."""
