"""gunicorn settings of the benchmarks' servers: nothing that changes how requests are served."""

#: No control socket (gunicorn 25.1+): its default path is one per machine, shared by every run.
control_socket_disable = True
#: No access log: the benchmarks send tens of thousands of requests.
accesslog = None
