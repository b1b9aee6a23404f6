// placeholder: written by the CPU backend work
