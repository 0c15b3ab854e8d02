"""Each method's pipeline steps, one module per method (distill/steps/<method>.py): the I/O around its math
(distill/methods/<method>.py): loading the teacher, training resumably, writing weights, summaries and samples. Its
plug-in (distill/plugins/<method>.py) holds its file layout, commands and card and calls these steps; steps shared by
several methods (sampling, evaluation, a teacher's training) live in distill/pipeline/."""
