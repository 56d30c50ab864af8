"""What trainees and consultants use beside the playbook, in JupyterLab (`python -m sim lab`, `lab`): the
simulated figures the chapters quote (`figures`), the exercises' answers, checks and solutions
(`exercises`, reading answers as people write them: `answers`), what the learning notebooks share (the
course language, texts in two languages, sliders, plot style: `notebook`), and the consultant's what-if
notebook's engine (`what_if`)."""
