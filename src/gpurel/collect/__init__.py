"""Live collection from a running Slurm cluster into the warehouse (``gpurel collect``).

``chunks`` cuts time into windows on a fixed grid; ``slurm`` asks sacct and sacctmgr about
one window, retried by ``retry`` while slurmdbd is unreachable; ``access`` warns when
slurmdbd's PrivateData hides jobs or events; ``load`` feeds the text to gpurel's readers;
``tail`` reads what health and kernel logs gained since the last run; ``state`` keeps the
resume points in the warehouse; ``collector`` runs it all: a window's resume point is stored
only after its rows are, so a run can be interrupted at any moment and simply run again.
"""
