import { Hono } from "hono";
import type { AppEnv } from "../env";

/** Liveness, without auth (spec §2.1). */
export const healthRoutes = new Hono<AppEnv>().get("/health", (c) => c.json({ message: "OK" }));
