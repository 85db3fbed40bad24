"""Timers: a repeating tick, a one-shot, and a cancel.

Prints a tick every --period ms; after --ticks ticks a one-shot timer stops
the repeating one (Timer.cancel) and the program exits. Timer callbacks run
inside poll(), on the thread that calls it.
"""

import argparse

from pymongoose import Manager


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--period", type=int, default=200, help="tick period in ms")
    parser.add_argument("--ticks", type=int, default=5)
    args = parser.parse_args()
    manager = Manager()
    count = {"ticks": 0, "done": False}

    def tick():
        if count["ticks"] == args.ticks:
            return  # a late tick, due before the pending stop ran: ignore it
        count["ticks"] += 1
        print(f"tick {count['ticks']}", flush=True)
        if count["ticks"] == args.ticks:
            manager.timer_add(args.period // 2, stop)  # one-shot

    def stop():
        ticker.cancel()
        count["done"] = True
        print("stopped", flush=True)

    ticker = manager.timer_add(args.period, tick, repeat=True)
    try:
        while not count["done"]:
            manager.poll(1000)
    except KeyboardInterrupt:
        pass
    finally:
        manager.close()


if __name__ == "__main__":
    main()
