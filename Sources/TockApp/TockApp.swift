import TockCore
