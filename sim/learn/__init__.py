"""What trainees use beside the playbook: the simulated figures it quotes (`figures`) and the exercises'
answers and checks (`exercises`)."""
